"""``run.py backtest``: the replay opens, reopens, escalates and resolves incidents just
as the service does on the same samples; one JSON line per incident on stdout, a
summary on stderr; bad input is one line naming the file and line, exit status 1,
nothing on stdout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import run
from monitors.backtest.replay import replay
from monitors.backtest.samples import SampleSet
from monitors.core import Core
from monitors.formatting import iso
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.models import IncidentRow

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
RULE = {
    "name": "slow-api",
    "metric": "latency",
    "aggregate": "avg",
    "window": "1m",
    "interval": "1m",
    "thresholds": {"warning": 500, "critical": 2000},
    "breaches_to_open": 2,
    "normals_to_resolve": 3,
    "cooldown": "30m",
}
CONFIG = "rules:\n  - " + json.dumps(RULE) + "\n"
# one value a minute: a regression that escalates, resolves, comes back within the
# cooldown (a reopen), then again long after it (a new incident)
SCENARIO = (
    [100] * 5 + [900, 900, 2500, 900] + [100] * 5 + [900] * 3 + [100] * 50 + [900] * 2 + [100] * 4
)


def scenario_csv(tmp_path, values=SCENARIO, extra: str = "") -> str:
    rows = [f"{iso(T0 + 60 * i)},{v}{extra}" for i, v in enumerate(values)]
    header = "timestamp,value" + (",route" if extra else "")
    path = tmp_path / "latency.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def config_file(tmp_path, text: str = CONFIG) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return str(path)


def backtest(capsys, *args: str) -> tuple[int, list[dict], str]:
    status = run.main(["backtest", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


async def test_the_replay_and_the_service_open_the_same_incidents(tmp_path, database_url):
    """The same samples, ticked at the same times, through the service's engine on a
    real database and through the backtest's replay."""
    rule = Rule.model_validate(RULE)
    now = T0
    core = await Core.open(database_url, [rule], clock=lambda: now)
    try:
        for i, value in enumerate(SCENARIO):
            now = T0 + 60 * i
            core.store.add_many([Sample("latency", value, {}, now)], now=now)
            await core.engine.tick([rule], now=now)
        async with core.db.read() as session:
            stored = (await session.scalars(select(IncidentRow).order_by(IncidentRow.id))).all()
    finally:
        await core.close()
    samples = SampleSet("latency")
    for i, value in enumerate(SCENARIO):
        samples.add(T0 + 60 * i, value, {})
    replayed = (await replay([rule], samples)).incidents
    service = [(i.opened_at, i.resolved_at, i.reopen_count) for i in stored]
    backtested = [(i.opened_at, i.resolved_at, i.reopened) for i in replayed]
    assert backtested == service
    assert len(service) == 2 and service[0][2] == 1  # one reopen, then a new incident
    assert [i.severity for i in replayed] == ["critical", "warning"]


def test_prints_one_json_line_per_incident_and_a_summary(tmp_path, capsys):
    status, lines, err = backtest(
        capsys,
        "--config",
        config_file(tmp_path),
        "--data",
        scenario_csv(tmp_path),
        "--metric",
        "latency",
    )
    assert status == 0
    assert lines[0] == {
        "rule": "slow-api",
        "labels": {},
        "severity": "critical",
        "opened_at": iso(T0 + 6 * 60),
        "resolved_at": iso(T0 + 19 * 60),  # after the reopen at 08:15
        "reopened": 1,
    }
    assert lines[1]["opened_at"] == iso(T0 + 68 * 60) and lines[1]["reopened"] == 0
    assert lines[1]["resolved_at"] == iso(T0 + 71 * 60)
    assert "2 incidents opened, 1 of them reopened" in err and "latency.csv" in err
    assert err.count("\n") == 1


def test_label_columns_split_the_series_and_both_timestamp_forms_are_read(tmp_path, capsys):
    grouped = {**RULE, "group_by": ["route"]}
    rows = ["timestamp,value,route"]
    for i, v in enumerate(SCENARIO[:12]):
        moment = datetime.fromtimestamp(T0 + 60 * i, UTC)
        rows.append(f"{moment:%Y-%m-%d %H:%M:%S},{v},/orders")
        rows.append(f"{moment.isoformat()},100,/health")  # +00:00 offset
    data = tmp_path / "routes.csv"
    data.write_text("\n".join(rows) + "\n")
    status, lines, _ = backtest(
        capsys,
        "--config",
        config_file(tmp_path, "rules:\n  - " + json.dumps(grouped) + "\n"),
        "--data",
        str(data),
        "--metric",
        "latency",
    )
    assert status == 0
    assert [line["labels"] for line in lines] == [{"route": "/orders"}]


def test_a_disabled_rule_named_with_rule_is_replayed(tmp_path, capsys):
    disabled = {**RULE, "enabled": False}
    config = config_file(tmp_path, "rules:\n  - " + json.dumps(disabled) + "\n")
    data = scenario_csv(tmp_path)
    status, _, err = backtest(capsys, "--config", config, "--data", data, "--metric", "latency")
    assert status == 1 and "no enabled rule reads metric 'latency'" in err
    status, lines, _ = backtest(
        capsys, "--config", config, "--data", data, "--metric", "latency", "--rule", "slow-api"
    )
    assert status == 0 and len(lines) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,value\n2027-01-15T08:00:00Z,1\n", "line 1: the header must name the columns"),
        ("timestamp,value\n2027-01-15T08:00:00Z,1\n2027-01-15T08:01:00Z\n", "line 3: 1 fields"),
        ("timestamp,value\n2027-01-15T08:00:00Z,1\nyesterday,2\n", "line 3: 'yesterday' is not"),
        ("timestamp,value\n2027-01-15T08:00:00Z,fast\n", "line 2: value 'fast' is not a finite"),
        ("timestamp,value\n2027-01-15T08:00:00Z,nan\n", "line 2: value 'nan' is not a finite"),
        ("timestamp,value,value\n", "line 1: the header has column 'value' twice"),
        ("timestamp,value\n", "no samples after the header"),
        (b"timestamp,value\n\xff\xfe,1\n", "not UTF-8 text"),
    ],
)
def test_a_bad_data_file_is_one_line_naming_the_file_and_line(tmp_path, capsys, content, message):
    data = tmp_path / "bad.csv"
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    status, lines, err = backtest(
        capsys, "--config", config_file(tmp_path), "--data", str(data), "--metric", "latency"
    )
    assert (status, lines) == (1, [])
    assert err.startswith(f"{data}: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "nope"], "there is no rule named 'nope' (rules: slow-api)"),
        (["--rule", "slow-api", "--metric", "value"], "reads metric 'latency', not 'value'"),
        (["--metric", "value"], "no enabled rule reads metric 'value'"),
    ],
)
def test_an_unknown_rule_or_metric_is_refused(tmp_path, capsys, args, message):
    args = ["--metric", "latency", *args] if "--metric" not in args else args
    status, lines, err = backtest(
        capsys, "--config", config_file(tmp_path), "--data", scenario_csv(tmp_path), *args
    )
    assert (status, lines) == (1, []) and message in err


def test_a_missing_data_file_or_an_invalid_config_is_refused(tmp_path, capsys):
    status, lines, err = backtest(
        capsys,
        "--config",
        config_file(tmp_path),
        "--data",
        str(tmp_path / "none.csv"),
        "--metric",
        "latency",
    )
    assert (status, lines) == (1, []) and "none.csv: No such file or directory" in err
    broken = config_file(tmp_path, "rules:\n  - {name: x, metric: latency, thresholds: {}}\n")
    status, lines, err = backtest(
        capsys, "--config", broken, "--data", scenario_csv(tmp_path), "--metric", "latency"
    )
    assert (status, lines) == (1, [])
    assert "rule 'x': thresholds: give at least one level" in err
