"""`run.py check-config PATH`: every error names the line, the rule, the field and the
reason, in file order."""

from __future__ import annotations

import re
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
        (
            "op: '=>'\n    thresholds: {warning: 1}",
            "op",
            "'=>' is not one of >, <, >=, <=, <>; did you mean '>='?",
        ),
        (
            "aggregate: p59\n    thresholds: {warning: 1}",
            "aggregate",
            "did you mean 'p95'?",
        ),
        ("thresholds: {warning: '800'}", "thresholds.warning", "'800' is not a number"),
        ("enabled: 'off'\n    thresholds: {warning: 1}", "enabled", "'off' is not true or false"),
        ("breaches_to_open: '3'\n    thresholds: {warning: 1}", "breaches_to_open", "not a number"),
        ("min_samples: 2.5\n    thresholds: {warning: 1}", "min_samples", "not a whole number"),
        (
            "breaches_to_open: 0\n    thresholds: {warning: 1}",
            "breaches_to_open",
            "0 is less than 1",
        ),
        (
            "normals_to_resolve: 1001\n    thresholds: {warning: 1}",
            "normals_to_resolve",
            "more than",
        ),
        ("escalate_after: 15m\n    thresholds: {warning: 1}", "escalate_to", "needs a channel"),
    ],
)
def test_each_error_names_rule_field_and_reason(tmp_path, capsys, rule, field, reason):
    text = f"rules:\n  - name: slow-api\n    metric: latency\n    {rule}\n"
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    key = f"    {field.split('.')[0]}:"  # the line of the key, else of the rule's start
    at = next((n for n, t in enumerate(text.splitlines(), 1) if t.startswith(key)), 2)
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert any(
        line.startswith(f"line {at}: rule 'slow-api': {field}:") and reason in line
        for line in lines
    ), err
    assert not any("Input should be" in line for line in lines), "pydantic's words, not ours"


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
    assert err.splitlines()[1:] == [
        "  line 5: rule 'a': thresholds.warning: 'x' is not a number",
        "  line 6: rules[1]: name: required",  # a rule with no name, by position
        "  line 8: rule 'a': name: another rule already has this name",
        "  line 11: rule 'ok': metric: required",  # the rule's first line
    ]
    assert err.splitlines()[0].endswith(": 4 errors")


def test_errors_come_in_file_order_settings_and_rules_alike(tmp_path, capsys):
    """pydantic reports in field-declaration order, and settings before rules; a reader
    fixing a file goes from top to bottom."""
    text = """rules:
  - name: b
    metric: m
    thresholds: {warning: 1}
    window: soon
    aggregate: nope
timer_interval: never
databse_url: sqlite://
"""
    status, _, err = check(tmp_path, text, capsys)
    assert status == 1
    assert [line.split(":")[0].strip() for line in err.splitlines()[1:]] == [
        "line 5",
        "line 6",
        "line 7",
        "line 8",
    ], err


def test_yaml_syntax_errors_give_the_line(tmp_path, capsys):
    status, _, err = check(tmp_path, "rules:\n  - name: a\n    metric: [m\n", capsys)
    assert status == 1
    assert err.splitlines()[1].startswith("  line 4: ")
    assert "(column " in err


def test_an_unknown_setting_points_to_where_settings_are_described(tmp_path, capsys):
    status, _, err = check(tmp_path, "databse_url: sqlite://\n" + GOOD, capsys)
    assert status == 1
    assert (
        "line 1: (settings): databse_url: unknown field (did you mean 'database_url'? "
        "see the Settings section of README.md)" in err
    )
    assert "docs/rules.md" not in err


def test_a_missing_file_is_an_error(tmp_path, capsys):
    status = run.main(["check-config", str(tmp_path / "nope.yaml")])
    assert status == 1
    assert (
        "nope.yaml: 1 error\n  cannot read it: No such file or directory" in capsys.readouterr().err
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# all commented out\n# rules:\n"])
def test_an_empty_file_is_an_error_not_ok_with_no_rules(tmp_path, capsys, text):
    """An empty file used to pass as "OK, 0 rules": a truncated file or a wrong path."""
    status, out, err = check(tmp_path, text, capsys)
    assert (status, out) == (1, "")
    assert "the file is empty; write 'rules: []' for a config without rules" in err


def test_no_rules_said_outright_passes(tmp_path, capsys):
    status, out, _ = check(tmp_path, "rules: []\n", capsys)
    assert status == 0 and "OK, 0 rules" in out


def test_rules_that_are_not_a_list_are_refused(tmp_path, capsys):
    status, _, err = check(tmp_path, "rules:\n  slow-api: {metric: m}\n", capsys)
    assert status == 1 and err.splitlines()[1] == "  line 1: (settings): rules: expected a list"


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
    lines = [re.sub(r"^line \d+: ", "", line.strip()) for line in err.splitlines()[1:]]
    assert any(line.startswith(f"rule 'r': {field}:") and reason in line for line in lines), err


def test_every_source_problem_of_a_rule_is_listed(tmp_path, capsys):
    status, _, err = check(
        tmp_path, "rules:\n  - name: r\n    source: sql\n    metric: m\n"
        "    thresholds: {warning: 1}\n", capsys
    )  # fmt: skip
    assert status == 1 and "3 errors" in err
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
    assert f"{bad}: 2 errors" in out.err


def test_the_rule_catalogue_passes():
    examples = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "config" / "examples").glob("*.yaml")
    )
    assert len(examples) >= 18
    result = check_in_a_process(*examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK, ") == len(examples)
    assert "config/examples/events.yaml: OK, 0 rules: none; 12 event types" in result.stdout
