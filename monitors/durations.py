"""Human durations (``1s``, ``15m``, ``2h``, ``7d``, ``1h30m``) to seconds and back."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


EXACT_SECONDS = 1e15
"""Below this a float holds every whole second; above it only the days are worth showing."""


class DurationError(ValueError):
    """Raised for text that is not a duration; the message says what is accepted."""


def parse_duration(text: str | int | float, zero_allowed: bool = False) -> float:
    """Return seconds for ``text``; a bare number is taken as seconds. Zero is refused
    unless ``zero_allowed`` (for settings where 0 means "off")."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        try:
            seconds = float(text)
        except OverflowError:  # an int past float range (YAML and json keep 10**400 exact)
            raise DurationError(f"{str(text)[:20]}... is too long") from None
    else:
        cleaned = text.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
            seconds = float(cleaned)
        elif _WHOLE.fullmatch(cleaned):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
        else:
            raise DurationError(
                f"{text!r} is not a duration; use a number with a unit, like 30s, 15m, 2h or 7d"
            )
    if seconds == 0 and zero_allowed:
        return 0.0
    if seconds <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    if not math.isfinite(seconds):
        raise DurationError(f"{text!r} is too long")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact text for ``seconds``: 90 -> ``1m30s``, 7200 -> ``2h``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds >= EXACT_SECONDS:  # hours and seconds would be float noise: "...3106d21h24m16s"
        return f"{seconds / 86400:.6g}d"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
