"""Small pieces of English shared by replies, cards and log lines."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``noun`` for one, else ``nouns`` (default: ``noun`` + s): the word only, so that
    other words can stand between the number and it ("2 unresolved incidents")."""
    return noun if count == 1 else nouns or f"{noun}s"


def counted(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 rule``, ``4 rules``."""
    return f"{count} {plural(count, noun, nouns)}"


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``: a count that must not read
    as an id (``#4`` is incident 4)."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
