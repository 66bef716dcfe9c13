"""Rules of every source: what the API and /rule show give back, and what counts as a
change of what a rule reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import read_config
from commands.render_rule import rule_text
from monitors.rules.schema import Rule, series_identity

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"
CATALOGUE = [rule for path in sorted(EXAMPLES.glob("*.yaml")) for rule in read_config(path)[1]]

SQL = Rule.model_validate(
    {
        "name": "orders",
        "source": "sql",
        "url": "postgresql+asyncpg://monitor:${DB_PASSWORD}@db/app",
        "query": "SELECT count(*) AS value FROM orders WHERE ts >= :window_start",
        "thresholds": {"warning": 10},
        "op": "<",
    }
)


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda rule: rule.name)
def test_a_rule_read_back_from_the_api_validates_as_it_was(rule):
    assert Rule.model_validate(rule.to_json()) == rule


def test_an_ingest_rule_lists_no_other_source_s_fields():
    ingest = Rule.model_validate({"name": "a", "metric": "m", "thresholds": {"warning": 1}})
    assert not {"url", "query", "key", "path", "headers", "timeout"} & set(ingest.to_json())


def test_rule_show_gives_the_source_and_the_url_as_written():
    text = rule_text(SQL, "file")
    assert "  source: sql" in text
    assert "  url: postgresql+asyncpg://monitor:${DB_PASSWORD}@db/app" in text
    assert "aggregate" not in text and "match" not in text  # not read by sql rules


def test_url_and_query_are_what_a_rule_reads():
    moved = SQL.model_copy(update={"url": "postgresql+asyncpg://monitor@replica/app"})
    retimed = SQL.model_copy(update={"timeout": 5.0})
    assert series_identity(moved.to_json()) != series_identity(SQL.to_json())
    assert series_identity(retimed.to_json()) == series_identity(SQL.to_json())


def test_read_timeout_defaults_to_ten_seconds_within_the_interval():
    assert SQL.read_timeout == 10
    fast = Rule.model_validate({**SQL.to_json(), "interval": "5s"})
    assert fast.read_timeout == 5


async def test_unset_variables_are_said_at_start_up(sqlite_url):
    from monitors.core import Core
    from monitors.sources.env import Environment

    core = await Core.open(sqlite_url, [SQL], environment=Environment({"OTHER": "x"}))
    try:
        assert core.rulebook.load_errors == [
            "rule 'orders' names ${DB_PASSWORD}, not set in Tocsin's environment: its reads fail"
        ]
    finally:
        await core.close()
    core = await Core.open(sqlite_url, [SQL], environment=Environment({"DB_PASSWORD": "pw"}))
    try:
        assert core.rulebook.load_errors == []
    finally:
        await core.close()
