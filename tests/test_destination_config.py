"""The config keys of email and webhook destinations: the issue's example is valid as
written, and each mistake is reported by check-config naming the key and the reason."""

from __future__ import annotations

import pytest
from destination_helpers import check_config

from bot.settings import CannotStart, load_settings

ISSUE_EXAMPLE = """
email:
  host: 127.0.0.1
  port: 2525
  from: tocsin@example.com
  starttls: false            # username/password from TOCSIN_SMTP_USERNAME / TOCSIN_SMTP_PASSWORD
webhook_allow_networks: [127.0.0.0/8]
destinations:
  oncall-mail: {email: [oncall@example.com], min_severity: critical}
  ops-hook: {webhook: {url: "http://127.0.0.1:9000/hook", secret: "s3cret"}}
rules:
  - name: slow-api
    metric: http.request.duration_ms
    thresholds: {warning: 800}
    channels: [oncall-mail, ops-hook]
"""
EMAIL = "email: {host: 127.0.0.1, port: 2525, from: tocsin@example.com, starttls: false}\n"


def test_the_issues_example_is_valid_and_read_as_written(tmp_path, capsys, monkeypatch):
    status, out = check_config(tmp_path, ISSUE_EXAMPLE, capsys)
    assert status == 0, out
    monkeypatch.setenv("TOCSIN_SMTP_USERNAME", "tocsin")
    monkeypatch.setenv("TOCSIN_SMTP_PASSWORD", "pw")
    settings = load_settings(tmp_path / "tocsin.yaml")
    assert settings.email is not None
    assert (settings.email.host, settings.email.port, settings.email.from_) == (
        "127.0.0.1",
        2525,
        "tocsin@example.com",
    )
    assert settings.email.starttls is False
    assert settings.smtp_username == "tocsin"
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "pw"
    mail, hook = settings.destinations["oncall-mail"], settings.destinations["ops-hook"]
    assert (mail.email, mail.min_severity) == (("oncall@example.com",), "critical")
    assert hook.webhook is not None and hook.webhook.secret.get_secret_value() == "s3cret"
    assert settings.routing(console=False).targets(["oncall-mail", "ops-hook"]) == (
        "email:oncall-mail",
        "webhook:ops-hook",
    )


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (
            EMAIL + "destinations:\n  m: {email: [oncall@example]}",
            "destinations.m.email",
            "'oncall@example' is not an email address",
        ),
        (
            EMAIL + "destinations:\n  m: {email: [oncall@example.com], min_severity: page}",
            "destinations.m.min_severity",
            "'page' is not a severity; use warning, error, critical",
        ),
        (
            "destinations:\n  h: {webhook: {url: 'ftp://example.com/x', secret: s}}",
            "destinations.h.webhook.url",
            "is not an http(s) URL",
        ),
        (
            "destinations:\n  h: {webhook: {url: 'http://10.1.2.3/hook', secret: s}}",
            "destinations.h.webhook.url",
            "10.1.2.3, a private address; webhooks reach only public addresses unless the "
            "network is listed under webhook_allow_networks",
        ),
        (
            "destinations:\n  h: {webhook: {url: 'http://localhost:9000/hook', secret: s}}",
            "destinations.h.webhook.url",
            "localhost resolves to",
        ),
        (
            "webhook_allow_networks: [10.0.0.0/8]\n"
            "destinations:\n  h: {webhook: {url: 'http://[::ffff:127.0.0.1]/', secret: s}}",
            "destinations.h.webhook.url",
            "which carries 127.0.0.1, a loopback address",
        ),
        (
            "destinations:\n  h: {webhook: {url: 'https://hooks.example.com/x'}}",
            "destinations.h.webhook.secret",
            "required",
        ),
        (
            "destinations:\n  h: {webhook: {url: 'https://x.example.com', secret: s, "
            "headers: {Content-Type: text/plain}}}",
            "destinations.h.webhook.headers",
            "Content-Type is set by Tocsin itself",
        ),
        (
            "destinations:\n  m: {email: [oncall@example.com]}",
            "destinations.m.email",
            "sends email, but there is no email: section",
        ),
        (
            "webhook_allow_networks: [10.0.0.1/8]",
            "webhook_allow_networks",
            "'10.0.0.1/8' is not a network: 10.0.0.1/8 has host bits set",
        ),
        (
            "email: {host: smtp.example.com, from: 'not an address'}",
            "email.from",
            "is not an email address",
        ),
        (
            "email: {host: smtp.example.com, from: a@example.com, tls: true}",
            "email",
            "choose starttls (port 587) or tls (port 465), not both",
        ),
        ("email: {hots: smtp.example.com, from: a@example.com}", "email.hots", "unknown field"),
    ],
)
def test_each_mistake_names_the_key_and_the_reason(tmp_path, capsys, text, field, reason):
    status, out = check_config(tmp_path, text + "\nrules: []\n", capsys)
    assert status == 1, out
    line = next((line for line in out.splitlines() if f" {field}:" in line), None)
    assert line is not None, out
    assert reason in line, line


def test_a_display_name_may_go_with_the_sender(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text("email: {host: smtp.example.com, from: 'Tocsin <tocsin@example.com>'}\n")
    settings = load_settings(path)
    assert settings.email is not None
    assert settings.email.from_ == "Tocsin <tocsin@example.com>"
    assert settings.email.sender_address == "tocsin@example.com"
    assert (settings.email.port, settings.email.starttls) == (587, True)  # the safe default


def test_a_secret_key_that_is_not_a_fernet_key_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", "not-a-key")
    path = tmp_path / "tocsin.yaml"
    path.write_text("rules: []\n")
    with pytest.raises(CannotStart, match="TOCSIN_SECRET_KEY: not a Fernet key"):
        load_settings(path)
