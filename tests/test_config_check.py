"""`run.py check-config PATH`: every error names the rule, the field and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import run

REPO = Path(__file__).resolve().parent.parent
GOOD = """
rules:
  - name: slow-api
    metric: http.request.duration_ms
    aggregate: p95
    thresholds: {warning: 800, critical: 2000}
"""


def check(tmp_path: Path, text: str, capsys) -> tuple[int, str, str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    status = run.main(["check-config", str(path)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_valid_file_passes(tmp_path, capsys):
    status, out, _ = check(tmp_path, GOOD, capsys)
    assert status == 0
    assert "OK, 1 rule: slow-api" in out


def check_in_a_process(*paths: str) -> subprocess.CompletedProcess[str]:
    """``python run.py check-config PATH...`` as an operator types it."""
    return subprocess.run(
        [sys.executable, "run.py", "check-config", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_shipped_config_passes():
    result = check_in_a_process("config/tocsin.yaml")
    assert result.returncode == 0, result.stderr
    assert "OK, 4 rules" in result.stdout


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        ("thresholds: {warning: fast}", "thresholds.warning", "'fast' is not a number"),
        ("treshold: 5\n    thresholds: {warning: 1}", "treshold", "unknown field"),
        (
            "treshold_type: static\n    thresholds: {warning: 1}",
            "treshold_type",
            "did you mean 'threshold_type'?",
        ),
        ("thresholds: {warn: 1}", "thresholds", "'warn' is not a level; use warning, error"),
        ("channels: alerts\n    thresholds: {warning: 1}", "channels", "expected a list"),
        (
            "op: '<'\n    thresholds: {warning: 100, critical: 500}",
            "thresholds",
            "must decrease from warning to critical",
        ),
        ("window: 5 minutes\n    thresholds: {warning: 1}", "window", "is not a duration"),
        ("interval: 1" + "0" * 400 + "\n    thresholds: {warning: 1}", "interval", "too long"),
        ("aggregate: percent_where\n    thresholds: {warning: 1}", "where", "needs a condition"),
        (
            "aggregate: percent_where\n    where: {status: '5..('}\n    thresholds: {warning: 1}",
            "where",
            "not a valid regular expression",
        ),
        ("aggregate: p42\n    thresholds: {warning: 1}", "aggregate", "p95"),
        ("breaches_to_open: 0\n    thresholds: {warning: 1}", "breaches_to_open", "greater than"),
        ("escalate_after: 15m\n    thresholds: {warning: 1}", "escalate_to", "needs a channel"),
    ],
)
def test_each_error_names_rule_field_and_reason(tmp_path, capsys, rule, field, reason):
    text = f"rules:\n  - name: slow-api\n    metric: latency\n    {rule}\n"
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert any(
        line.startswith(f"rule 'slow-api': {field}:") and reason in line for line in lines
    ), err


def test_every_error_in_a_file_is_reported_at_once(tmp_path, capsys):
    text = """
rules:
  - name: a
    metric: m
    thresholds: {warning: x}
  - metric: m
    thresholds: {warning: 1}
  - name: a
    metric: m
    thresholds: {warning: 1}
  - name: ok
    thresholds: {warning: 1}
"""
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    assert "4 error(s)" in err.splitlines()[0]
    assert "rule 'a': thresholds.warning:" in err
    assert "rules[1]: name: required" in err  # a rule with no name, by position
    assert "rule 'a': name: another rule already has this name" in err
    assert "rule 'ok': metric: required" in err


def test_yaml_syntax_errors_give_the_line(tmp_path, capsys):
    status, _, err = check(tmp_path, "rules:\n  - name: a\n    metric: [m\n", capsys)
    assert status == 1
    assert "(file): line " in err


def test_unknown_settings_and_missing_files_are_errors(tmp_path, capsys):
    status, _, err = check(tmp_path, "databse_url: sqlite://\n" + GOOD, capsys)
    assert status == 1 and "databse_url: unknown field (did you mean 'database_url'?" in err
    status = run.main(["check-config", str(tmp_path / "nope.yaml")])
    assert status == 1
    assert "No such file" in capsys.readouterr().err


def test_a_rule_name_error_says_what_a_name_may_hold(tmp_path, capsys):
    status, _, err = check(tmp_path, "rules:\n  - name: Slow API\n    metric: m\n", capsys)
    assert status == 1
    assert "rule 'Slow API': name: 'Slow API': use lower-case letters, digits" in err


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, capsys):
    status, _, err = check(tmp_path, "- just\n- a list\n", capsys)
    assert status == 1 and "expected a mapping" in err


# ------------------------------------------------------------ sources' own fields


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        ("source: prometeus", "source", "'prometeus' is not a source (did you mean 'prometheus'?)"),
        ("source: sql\n    query: SELECT 1 AS value", "url", "required for source 'sql', e.g."),
        ("source: sql\n    url: postgresql://db/x", "query", "required for source 'sql'"),
        ("source: sql\n    url: postgresql://db/x\n    query: SELECT 1 AS value\n"
         "    aggregate: p95", "aggregate", "not used by sql rules"),
        ("source: sql\n    url: postgresql://db/x\n    query: SELECT :since AS value",
         "query", ":since: Tocsin binds only :window_start and :window_end"),
        ("source: sql\n    url: http://db/x\n    query: SELECT 1 AS value",
         "url", "'http://db/x' is not an sql URL; it starts with postgresql://"),
        ("source: sql\n    url: postgresql://${DB_URL\n    query: SELECT 1 AS value",
         "url", "'${' without a closing '}'"),
        ("source: http\n    url: https://a.example\n    metric: latncy_ms", "metric",
         "'latncy_ms' is not an http metric (did you mean 'latency_ms'?)"),
        ("source: http\n    url: https://a.example\n    metric: up\n    body_match: '(('",
         "body_match", "not a valid regular expression"),
        ("source: redis\n    url: redis://r:6379/0\n    metric: list_length", "key",
         "required for metric list_length, e.g. key: celery"),
        ("source: redis\n    url: redis://r:6379/0\n    metric: clients\n    key: celery", "key",
         "only read by list_length and list_growth"),
        ("source: system\n    metric: disk_used_percent", "path", "required for metric"),
        ("source: system\n    metric: cpu_percent\n    url: http://x", "url",
         "not used by source 'system'"),
        ("source: prometheus\n    url: http://p:9090\n    query: up\n"
         "    threshold_type: percent_change", "threshold_type", "percent_change needs"),
        ("source: prometheus\n    url: http://p:9090\n    query: up\n    interval: 5s\n"
         "    timeout: 10s", "timeout", "must not be longer than the interval"),
        ("source: prometheus\n    url: http://p:9090\n    query: up\n"
         "    headers: {Authorization: 'Bearer ${TOKEN'}", "headers.Authorization", "'${'"),
    ],
)  # fmt: skip
def test_source_fields_are_checked_per_source(tmp_path, capsys, rule, field, reason):
    text = f"rules:\n  - name: r\n    {rule}\n    thresholds: {{warning: 1}}\n"
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert any(line.startswith(f"rule 'r': {field}:") and reason in line for line in lines), err


def test_every_source_problem_of_a_rule_is_listed(tmp_path, capsys):
    status, _, err = check(
        tmp_path, "rules:\n  - name: r\n    source: sql\n    metric: m\n"
        "    thresholds: {warning: 1}\n", capsys
    )  # fmt: skip
    assert status == 1 and "3 error(s)" in err
    assert "rule 'r': metric: not used by sql rules" in err
    assert "rule 'r': url: required" in err and "rule 'r': query: required" in err


def test_event_types_are_checked(tmp_path, capsys):
    text = """
event_types:
  deploy: {record_only: true}
  breaker_closed: {resolves: circuit_breaker_opend}
  both: {severity: error, record_only: true}
  loud: {severity: fatal}
"""
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    assert (
        "event type 'breaker_closed': resolves: 'circuit_breaker_opend' is not an event type "
        "that opens incidents (did you mean 'circuit_breaker_opened'?)" in err
    )
    assert "event type 'both': severity: give exactly one of severity" in err
    assert "event type 'loud': severity:" in err


def test_several_files_are_checked_and_each_reported(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text("rules:\n  - name: x\n    source: sql\n    thresholds: {warning: 1}\n")
    status = run.main(["check-config", str(good), str(bad)])
    out = capsys.readouterr()
    assert status == 1
    assert f"{good}: OK, 1 rule: slow-api" in out.out
    assert f"{bad}: 2 error(s)" in out.err


def test_the_rule_catalogue_passes():
    examples = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "config" / "examples").glob("*.yaml")
    )
    assert len(examples) >= 18
    result = check_in_a_process(*examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK, ") == len(examples)
    assert "config/examples/events.yaml: OK, 0 rules: none; 11 event types" in result.stdout
