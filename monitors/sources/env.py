"""``${NAME}`` in a rule's ``url`` (and ``headers``): credentials stay in the environment.

The rule keeps the text as written, so ``/rule show`` and the API never show a secret;
the value is put in by :class:`Environment`, the one place that expands, built once at
start-up from the variables the settings read (see bot/settings.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MissingVariable(LookupError):
    """A ``${NAME}`` whose variable is not set where Tocsin runs."""


def references(text: str) -> list[str]:
    """The variable names ``text`` refers to, in order."""
    return _REFERENCE.findall(text)


def reference_problem(text: str) -> str | None:
    """Why ``text``'s ``${...}`` references are malformed, or None."""
    for name in references(text):
        if not _NAME.match(name):
            return f"'${{{name}}}' is not a variable name; use letters, digits and '_'"
    if "${" in _REFERENCE.sub("", text):
        return "'${' without a closing '}'; write ${NAME}"
    return None


class Environment:
    """The variables ``${NAME}`` may name: a snapshot taken once, at start-up."""

    def __init__(self, variables: Mapping[str, str] | None = None) -> None:
        self._variables = dict(variables or {})

    def expand(self, text: str) -> str:
        """``text`` with every ``${NAME}`` replaced; MissingVariable names the first unset."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._variables:
                raise MissingVariable(
                    f"environment variable {name} is not set (named as ${{{name}}})"
                )
            return self._variables[name]

        return _REFERENCE.sub(value, text)

    def expand_request(self, url: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """A rule's URL and headers as they are sent."""
        return self.expand(url), {name: self.expand(v) for name, v in headers.items()}

    def missing(self, text: str) -> list[str]:
        """The variables ``text`` names that are not set."""
        return [name for name in references(text) if name not in self._variables]

    def unset_in(self, name: str, url: str | None, headers: Mapping[str, str]) -> str | None:
        """A warning for a rule whose URL or headers name unset variables, or None: said
        once at start-up, so the operator hears of it before the first failed read."""
        unset = sorted({v for text in (url or "", *headers.values()) for v in self.missing(text)})
        if not unset:
            return None
        names = ", ".join(f"${{{v}}}" for v in unset)
        return f"rule '{name}' names {names}, not set in Tocsin's environment: its reads fail"


def display_url(url: str) -> str:
    """A URL fit for chat and logs: a password written in it is replaced by ``***``
    (``${NAME}`` references are shown as they are: they are not secrets)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}{slash}{tail}"
