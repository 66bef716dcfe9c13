"""People in stored text: ``Acknowledged by {@slack:U123|alice}``.

Timelines, card fields and replies are written once, platform-neutral. Where a person is
named, the text carries a mention token with their platform, user id and display name;
each surface renders it its own way: Slack ``<@U123>``, Discord ``<@123>``, and the name
everywhere else (the console, the API, email, and the other platform). Text typed by
people (notes, reasons) passes through ``neutralise`` so it cannot forge a mention."""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"\{@([a-z]+):([^|{}]+)\|([^{}]*)\}")
_UNSAFE = re.compile(r"[{}|]")


def token(platform: str, user_id: str, name: str) -> str:
    """The mention token for a person; ``{``, ``}`` and ``|`` are dropped from the parts."""
    return f"{{@{platform}:{_UNSAFE.sub('', user_id)}|{_UNSAFE.sub('', name)}}}"


def token_for_ref(ref: str | None, name: str) -> str:
    """The token for a stored ``platform:user id`` ref and name; the name alone without a
    ref (Tocsin itself, or rows older than refs)."""
    platform, sep, user_id = (ref or "").partition(":")
    return token(platform, user_id, name) if sep and user_id else name


def neutralise(text: str) -> str:
    """Text a person typed, made unable to pass for a mention token."""
    return text.replace("{@", "{ @")


def render(
    text: str,
    platform: str,
    mention: Callable[[str], str],
    escape: Callable[[str], str] = lambda part: part,
) -> str:
    """``text`` for ``platform``: tokens of its own users become ``mention(user_id)``,
    others their name; the text between tokens, and names, go through ``escape``."""
    parts, last = [], 0
    for found in _TOKEN.finditer(text):
        parts.append(escape(text[last : found.start()]))
        token_platform, user_id, name = found.groups()
        parts.append(mention(user_id) if token_platform == platform else escape(name))
        last = found.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def plain(text: str) -> str:
    """``text`` with every mention token replaced by the person's name."""
    return _TOKEN.sub(lambda found: found[3], text)
