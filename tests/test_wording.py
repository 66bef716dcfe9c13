"""Small pieces of English that many messages share."""

from __future__ import annotations

import pytest

from monitors.wording import counted, ordinal


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinals_read_as_english(number, text):
    assert ordinal(number) == text


def test_counted_says_one_thing_and_many_things():
    assert [counted(n, "silence") for n in (0, 1, 2)] == ["0 silences", "1 silence", "2 silences"]
