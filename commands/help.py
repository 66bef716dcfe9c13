"""The help text, derived from the command table in :mod:`commands.parser`."""

from __future__ import annotations

from commands.parser import GROUPS, CommandError, CommandSpec, group_specs, resolve_group

__all__ = ["CommandError", "help_text"]

ADMIN_MARK = "(admins only)"


def help_text(group: str | None = None) -> str:
    """All commands grouped, each with its usage and summary; or one group's.

    An unknown group raises CommandError listing the groups."""
    if group is None:
        sections = [_section(name) for name in GROUPS]
        footer = f"Type /help GROUP for one group ({', '.join(GROUPS)})."
        return "\n\n".join(["Tocsin commands:", *sections, footer])
    return _section(resolve_group(group))


def _section(group: str) -> str:
    lines = [f"{GROUPS[group]} (/{group})"]
    lines.extend(f"  {_line(spec)}" for spec in group_specs(group))
    return "\n".join(lines)


def _line(spec: CommandSpec) -> str:
    mark = f" {ADMIN_MARK}" if spec.admin else ""
    return f"{spec.usage} — {spec.summary}{mark}"
