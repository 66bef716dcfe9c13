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


def test_the_shipped_config_passes():
    result = subprocess.run(
        [sys.executable, "run.py", "check-config", "config/tocsin.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
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
