from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.rules.matchers import Matcher, MatcherError, format_matchers, parse_matchers


def test_each_operator() -> None:
    matchers = parse_matchers("rule=slow-api,env!=dev,route=~/api/.*,host!~db-\\d+")
    assert matchers == (
        Matcher("rule", "=", "slow-api"),
        Matcher("env", "!=", "dev"),
        Matcher("route", "=~", "/api/.*"),
        Matcher("host", "!~", "db-\\d+"),
    )


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        (Matcher("rule", "=", "slow-api"), {"rule": "slow-api"}, True),
        (Matcher("rule", "=", "slow-api"), {"rule": "slow-db"}, False),
        (Matcher("env", "!=", "dev"), {"env": "prod"}, True),
        (Matcher("env", "!=", "dev"), {"env": "dev"}, False),
        (Matcher("route", "=~", "/api/.*"), {"route": "/api/users"}, True),
        (Matcher("route", "=~", "/api"), {"route": "/api/users"}, False),  # full match
        (Matcher("route", "=~", "api"), {"route": "/api"}, False),
        (Matcher("host", "!~", "db-\\d+"), {"host": "db-2"}, False),
        (Matcher("host", "!~", "db-\\d+"), {"host": "web-1"}, True),
    ],
)
def test_matches(matcher: Matcher, labels: dict[str, str], expected: bool) -> None:
    assert matcher.matches(labels) is expected


def test_missing_label_counts_as_empty() -> None:
    assert Matcher("env", "!=", "dev").matches({})
    assert not Matcher("env", "=", "dev").matches({})
    assert Matcher("env", "=", "").matches({})
    assert Matcher("env", "=~", ".*").matches({})
    assert not Matcher("env", "=~", ".+").matches({})
    assert Matcher("env", "!~", ".+").matches({})


def test_whitespace_braces_and_quotes() -> None:
    assert parse_matchers(' { rule = "slow api" , env != "dev" } ') == (
        Matcher("rule", "=", "slow api"),
        Matcher("env", "!=", "dev"),
    )
    assert parse_matchers('reason="a, b",q="say \\"hi\\""') == (
        Matcher("reason", "=", "a, b"),
        Matcher("q", "=", 'say "hi"'),
    )


def test_backslashes_are_kept_for_regexes() -> None:
    assert parse_matchers('a=~"\\d+",b=~\\w+') == (
        Matcher("a", "=~", "\\d+"),
        Matcher("b", "=~", "\\w+"),
    )


def test_empty_value_and_dotted_labels() -> None:
    assert parse_matchers("env=,http.route=/x") == (
        Matcher("env", "=", ""),
        Matcher("http.route", "=", "/x"),
    )


def test_format() -> None:
    matchers = parse_matchers('rule=slow-api,reason="a, b",route=~/api/.*')
    assert format_matchers(matchers) == 'rule=slow-api,reason="a, b",route=~/api/.*'
    assert str(Matcher("q", "=", 'x"y\\')) == 'q="x\\"y\\\\"'


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no matchers given"),
        ("   ", "no matchers given"),
        ("{}", "no matchers given"),
        ("env", '"env" has no operator'),
        ("rule=a,env", '"env" has no operator'),
        ("a=b,,c=d", "empty matcher"),
        ("a=b,", "ends with a comma"),
        ("=dev", "no label name"),
        ("my env=dev", '"my env" is not a label name'),
        ("9lives=x", '"9lives" is not a label name'),
        ("a!b=c", "is not a matcher"),
        ('a="x', "unclosed quote"),
        ('a="x"y', "text after the closing quote"),
        ("route=~[", "not a valid regular expression"),
        ("route!~(a", "not a valid regular expression"),
    ],
)
def test_bad_matchers(text: str, fragment: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_constructor_validates() -> None:
    with pytest.raises(MatcherError, match="not a matcher operator"):
        Matcher("a", "==", "b")  # type: ignore[arg-type]
    with pytest.raises(MatcherError, match="not a valid regular expression"):
        Matcher("a", "=~", "(")
    with pytest.raises(MatcherError, match="not a label name"):
        Matcher("", "=", "b")


def test_matchers_are_hashable_values() -> None:
    assert Matcher("a", "=~", "x") == Matcher("a", "=~", "x")
    assert len({Matcher("a", "=~", "x"), Matcher("a", "=~", "x")}) == 1


_labels = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,10}", fullmatch=True)
_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_plain = st.builds(Matcher, _labels, st.sampled_from(["=", "!="]), _values)


@given(st.lists(_plain, min_size=1, max_size=4))
def test_format_round_trips(matchers: list[Matcher]) -> None:
    assert parse_matchers(format_matchers(matchers)) == tuple(matchers)
