"""Settings precedence, and a stop that lets the running tick finish."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import load_settings
from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading

CONFIG = """
database_url: sqlite+aiosqlite:///from-file.db
http_port: 9000
destinations:
  ops: {slack: C0OPS}
rules:
  - {name: a, metric: m, thresholds: {warning: 1}}
"""


def test_defaults_with_no_config_and_no_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (
        "TOCSIN_CONFIG",
        "TOCSIN_DATABASE_URL",
        "TOCSIN_HTTP_HOST",
        "TOCSIN_HTTP_PORT",
        "TOCSIN_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///data/tocsin.db"
    assert (settings.http_host, settings.http_port, settings.api_token) == ("127.0.0.1", 8080, None)
    assert settings.rules == [] and not settings.slack_enabled and not settings.discord_enabled


def test_environment_beats_the_file_and_the_command_line_beats_both(tmp_path, monkeypatch):
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG)
    monkeypatch.setenv("TOCSIN_CONFIG", str(config))
    file_only = load_settings()
    assert file_only.database_url == "sqlite+aiosqlite:///from-file.db"
    assert file_only.http_port == 9000 and list(file_only.destinations) == ["ops"]
    assert [r.name for r in file_only.rules] == ["a"]
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "postgresql+asyncpg://db/tocsin")
    monkeypatch.setenv("TOCSIN_HTTP_PORT", "9100")
    monkeypatch.setenv("TOCSIN_API_TOKEN", "s3cret")
    env = load_settings()
    assert (env.database_url, env.http_port, env.api_token) == (
        "postgresql+asyncpg://db/tocsin",
        9100,
        "s3cret",
    )
    other = tmp_path / "other.yaml"
    other.write_text("rules: []\n")
    cli = load_settings(config=other, http_port=9200)
    assert cli.config_path == other and cli.rules == [] and cli.http_port == 9200


class SlowSource:
    """A source whose fetch waits until the test lets it go."""

    name = "ingest"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def fetch(self, rules, now):
        self.started.set()
        await self.release.wait()
        return {rule.name: RuleReading() for rule in rules}


async def test_stop_waits_for_the_tick_in_flight_then_ticks_no_more(tmp_path: Path):
    rule = Rule.model_validate(
        {"name": "a", "metric": "m", "interval": "1s", "thresholds": {"warning": 1}}
    )
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", [rule])
    source = SlowSource()
    core.engine.sources["ingest"] = source
    scheduler = core.scheduler()
    scheduler.start()
    try:
        await asyncio.wait_for(source.started.wait(), 10)  # a tick is running
        stopping = asyncio.ensure_future(scheduler.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # it waits for the tick rather than cutting it off
        source.release.set()
        await asyncio.wait_for(stopping, 10)
        ticks = core.engine.stats.ticks
        assert ticks == 1
        await asyncio.sleep(1.5)
        assert core.engine.stats.ticks == ticks  # stopped: no further ticks
    finally:
        await core.close()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TOCSIN_HTTP_PORT", "abc", "TOCSIN_HTTP_PORT: 'abc' is not a number"),
        ("TOCSIN_HTTP_PORT", "70000", "TOCSIN_HTTP_PORT: Input should be less than or equal"),
        ("TOCSIN_LOG_LEVEL", "bogus", "TOCSIN_LOG_LEVEL: 'bogus' is not a log level; use DEBUG"),
        ("TOCSIN_DATABASE_URL", "mysql://x", "TOCSIN_DATABASE_URL: 'mysql://x' is not a SQLite"),
        ("TOCSIN_SLACK_API_URL", "slack.example", "TOCSIN_SLACK_API_URL: 'slack.example' is not"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_exit_status_2(tmp_path, variable, value, says):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    environment.update({"TOCSIN_CONFIG": str(tmp_path / "none.yaml"), variable: value})
    (tmp_path / "none.yaml").write_text("rules: []\n")
    result = subprocess.run(
        [sys.executable, "run.py"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Cannot start: {says}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
