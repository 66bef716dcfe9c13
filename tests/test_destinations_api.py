"""``/v1/destinations``: listing without secrets, saving with secrets encrypted (and
across restarts), refusing bad input with a clear message and no change, deleting, and
test messages that report what the destination answered."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from destination_helpers import SECRET, api, config, email_section, open_incident, service
from receivers import hook_receiver, signature_matches, smtp_server
from sqlalchemy import select

from storage.models import AuditRow, DestinationRow

KEY = Fernet.generate_key().decode()
HOOK_SECRET = "api-s3cret-value"
HOOK_TOKEN = "Bearer tok-123-secret"


def file_config(database_url: str, hook_url: str, smtp_port: int | None = None) -> str:
    """ops-hook (a webhook) and, with an SMTP port, oncall-mail, in the file; the rule
    sends to the console."""
    extra = "webhook_allow_networks: [127.0.0.0/8]\ndestinations:\n"
    extra += (
        f'  ops-hook: {{webhook: {{url: "{hook_url}", secret: {SECRET}, '
        f'headers: {{Authorization: "{HOOK_TOKEN}"}}}}}}\n'
    )
    if smtp_port is not None:
        extra = email_section(smtp_port) + extra
        extra += "  oncall-mail: {email: [oncall@example.com], min_severity: critical}\n"
    return config(database_url, "console", extra)


def new_hook(url: str, name: str = "team-hook", **more: object) -> dict[str, object]:
    return {
        "name": name,
        "webhook": {"url": url, "secret": HOOK_SECRET, "headers": {"X-Auth": "hdr-secret"}},
        **more,
    }


async def stored(running) -> list[DestinationRow]:
    async with running.core.db.read() as session:
        return list((await session.scalars(select(DestinationRow))).all())


async def test_the_files_destinations_are_listed_without_their_secrets(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        smtp_server() as mailbox,
        service(tmp_path, file_config(sqlite_url, receiver.url, mailbox.port), clock) as running,
        api(running) as client,
    ):
        response = await client.get("/v1/destinations")
    assert response.status_code == 200
    assert SECRET not in response.text and "tok-123" not in response.text
    mail, hook = response.json()["destinations"]  # by name
    assert hook == {
        "name": "ops-hook",
        "origin": "file",
        "webhook": {
            "url": receiver.url,
            "secret": "<redacted>",
            "headers": {"Authorization": "<redacted>"},
        },
        "targets": ["webhook:ops-hook"],
    }
    assert mail == {
        "name": "oncall-mail",
        "origin": "file",
        "email": ["oncall@example.com"],
        "min_severity": "critical",
        "targets": ["email:oncall-mail"],
    }


async def test_a_created_webhook_is_stored_encrypted_and_survives_a_restart(
    tmp_path, database_url, clock, monkeypatch
):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", KEY)
    async with hook_receiver(HOOK_SECRET) as receiver:
        text = file_config(database_url, receiver.url)
        async with service(tmp_path, text, clock) as running, api(running) as client:
            created = await client.post("/v1/destinations", json=new_hook(receiver.url))
            assert created.status_code == 201, created.text
            assert created.headers["Location"] == "/v1/destinations/team-hook"
            assert HOOK_SECRET not in created.text and "hdr-secret" not in created.text
            (row,) = await stored(running)
            async with running.core.db.read() as session:
                audit = (await session.scalars(select(AuditRow))).all()
        assert HOOK_SECRET not in str(row.spec) + str(row.sealed)
        assert "hdr-secret" not in str(row.spec) + str(row.sealed)
        assert Fernet(KEY.encode()).decrypt(row.sealed.encode())  # it is a Fernet token
        assert [(a.action, a.target) for a in audit] == [("destination.create", "team-hook")]
        assert HOOK_SECRET not in str(audit[0].detail)

        async with service(tmp_path, text, clock) as running, api(running) as client:
            listed = (await client.get("/v1/destinations")).json()["destinations"]
            assert [(d["name"], d["origin"]) for d in listed] == [
                ("ops-hook", "file"),
                ("team-hook", "api"),
            ]
            assert listed[1]["created_by"] == "api (api)"
            rule = await client.patch("/v1/rules/slow-api", json={"channels": ["team-hook"]})
            assert rule.status_code == 200, rule.text
            await open_incident(running, clock)
            assert await running.dispatcher.run_once() == 1
    (hook,) = receiver.received
    assert hook.signature_ok and hook.headers["X-Auth"] == "hdr-secret"  # decrypted right


async def test_without_the_secret_key_a_webhook_is_refused_and_nothing_saved(
    tmp_path, database_url, clock
):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, file_config(database_url, receiver.url), clock) as running,
        api(running) as client,
    ):
        before = (await client.get("/v1/destinations")).json()
        response = await client.post("/v1/destinations", json=new_hook(receiver.url))
        assert response.status_code == 400
        assert "TOCSIN_SECRET_KEY is not set" in response.json()["error"]
        assert "Fernet" in response.json()["error"]
        assert (await client.get("/v1/destinations")).json() == before
        assert await stored(running) == []


async def test_a_destination_with_no_secret_needs_no_key(tmp_path, sqlite_url, clock):
    async with (
        smtp_server() as mailbox,
        hook_receiver() as receiver,
        service(tmp_path, file_config(sqlite_url, receiver.url, mailbox.port), clock) as running,
        api(running) as client,
    ):
        body = {"name": "ops-mail", "email": ["ops@example.com"]}
        response = await client.post("/v1/destinations", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["email"] == ["ops@example.com"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"name": "m", "email": ["not-an-address"]}, 400, "'not-an-address' is not an email"),
        ({"name": "m", "email": []}, 400, "give one or more addresses"),
        (
            {"name": "h", "webhook": {"url": "ftp://127.0.0.1/x", "secret": "s"}},
            400,
            "is not an http(s) URL",
        ),
        (
            {"name": "h", "webhook": {"url": "https://u:pw@hooks.example.com/", "secret": "s"}},
            400,
            "put credentials in headers",
        ),
        (
            {"name": "h", "webhook": {"url": "http://10.0.0.5/hook", "secret": "s"}},
            400,
            "10.0.0.5, a private address; webhooks reach only public addresses",
        ),
        (
            {"name": "h", "webhook": {"url": "http://[::ffff:169.254.169.254]/", "secret": "s"}},
            400,
            "which carries 169.254.169.254, a link-local address",
        ),
        (
            {"name": "h", "webhook": {"url": "https://hooks.example.com/", "secret": "<redacted>"}},
            400,
            "<redacted> is what the API shows instead of the secret",
        ),
        (
            {
                "name": "h",
                "webhook": {
                    "url": "https://hooks.example.com/",
                    "secret": "s",
                    "headers": {"X-Tocsin-Signature": "sha256=forged"},
                },
            },
            400,
            "X-Tocsin-Signature is set by Tocsin itself",
        ),
        (
            {"name": "h", "webhook": {"url": "https://hooks.example.com/"}},
            400,
            "webhook.secret: required",
        ),
        ({"name": "m", "emial": ["a@example.com"]}, 400, "did you mean 'email'?"),
        ({"name": "m", "slack": "C0X", "min_severity": "high"}, 400, "'high' is not a severity"),
        ({"name": "m"}, 400, "name a place"),
        ({"name": "Ops Hook", "slack": "C0X"}, 400, "is not a destination name"),
        ({"slack": "C0X"}, 400, "None is not a destination name"),
        ({"name": "ops-hook", "slack": "C0X"}, 409, "A destination named 'ops-hook' exists"),
        ({"name": "console", "slack": "C0X"}, 409, "A destination named 'console' exists"),
        ({"name": "m", "email": ["ops@example.com"]}, 400, "Tocsin has no SMTP server"),
    ],
)
async def test_bad_input_is_refused_clearly_and_changes_nothing(
    tmp_path, sqlite_url, clock, monkeypatch, body, status, says
):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", KEY)
    async with (
        hook_receiver() as receiver,
        service(tmp_path, file_config(sqlite_url, receiver.url), clock) as running,
        api(running) as client,
    ):
        before = (await client.get("/v1/destinations")).json()
        response = await client.post("/v1/destinations", json=body)
        assert response.status_code == status, response.text
        assert says in response.json()["error"]
        assert (await client.get("/v1/destinations")).json() == before
        assert await stored(running) == []


async def test_an_oversized_body_is_refused(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, file_config(sqlite_url, receiver.url), clock) as running,
        api(running) as client,
    ):
        body = {"name": "m", "slack": "C0X", "padding": "x" * (2 * 1024 * 1024)}
        response = await client.post("/v1/destinations", json=body)
        assert response.status_code == 413
        assert "larger than 1 MiB" in response.json()["error"]
        assert await stored(running) == []


async def test_deleting_a_saved_destination_is_for_good_and_the_files_are_read_only(
    tmp_path, database_url, clock, monkeypatch
):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", KEY)
    async with hook_receiver() as receiver:
        text = file_config(database_url, receiver.url)
        async with service(tmp_path, text, clock) as running, api(running) as client:
            await client.post("/v1/destinations", json=new_hook(receiver.url))
            from_file = await client.delete("/v1/destinations/ops-hook")
            assert from_file.status_code == 409
            assert "defined in the config file" in from_file.json()["error"]
            unknown = await client.delete("/v1/destinations/no-such-hook")
            assert unknown.status_code == 404
            assert "There is no destination named 'no-such-hook'" in unknown.json()["error"]
            await client.patch("/v1/rules/slow-api", json={"channels": ["team-hook"]})
            in_use = await client.delete("/v1/destinations/team-hook")
            assert in_use.status_code == 409
            assert "Rules slow-api send to 'team-hook'" in in_use.json()["error"]
            await client.patch("/v1/rules/slow-api", json={"channels": ["console"]})
            deleted = await client.delete("/v1/destinations/team-hook")
            assert deleted.status_code == 200, deleted.text
            assert deleted.json()["deleted"]["name"] == "team-hook"
            assert HOOK_SECRET not in deleted.text
        async with service(tmp_path, text, clock) as running, api(running) as client:
            names = [
                d["name"] for d in (await client.get("/v1/destinations")).json()["destinations"]
            ]
            assert names == ["ops-hook"]
            assert await stored(running) == []


async def test_a_saved_secret_the_key_cannot_open_is_reported_not_used(
    tmp_path, sqlite_url, clock, monkeypatch
):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", KEY)
    async with hook_receiver() as receiver:
        text = file_config(sqlite_url, receiver.url)
        async with service(tmp_path, text, clock) as running, api(running) as client:
            await client.post("/v1/destinations", json=new_hook(receiver.url))
        monkeypatch.setenv("TOCSIN_SECRET_KEY", Fernet.generate_key().decode())
        async with service(tmp_path, text, clock) as running, api(running) as client:
            (problem,) = running.core.destinations.load_errors
            assert "saved destination 'team-hook' cannot be used" in problem
            listed = (await client.get("/v1/destinations")).json()["destinations"]
            assert "does not decrypt with TOCSIN_SECRET_KEY" in listed[1]["problem"]
            test = await client.post("/v1/destinations/team-hook/test")
            assert test.status_code == 409 and "cannot be used" in test.json()["error"]
            assert (await client.delete("/v1/destinations/team-hook")).status_code == 200
    assert receiver.received == []


async def test_a_test_message_reports_what_the_webhook_answered(tmp_path, database_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, file_config(database_url, receiver.url), clock) as running,
        api(running) as client,
    ):
        accepted = await client.post(
            "/v1/destinations/ops-hook/test", headers={"X-Tocsin-Actor": "alice"}
        )
        receiver.answer(500, "receiver is broken")
        refused = await client.post("/v1/destinations/ops-hook/test")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "destination": "ops-hook",
        "ok": True,
        "answers": [
            {
                "target": "webhook:ops-hook",
                "ok": True,
                "summary": "HTTP 200",
                "status": 200,
                "body": '{"ok": true, "seen": 1}',
            }
        ],
    }
    assert refused.status_code == 502
    (answer,) = refused.json()["answers"]
    assert (answer["ok"], answer["status"], answer["body"]) == (False, 500, "receiver is broken")
    assert "answered HTTP 500: receiver is broken" in answer["summary"]
    first = receiver.received[0]
    assert signature_matches(SECRET, first.body, first.headers["X-Tocsin-Signature"])
    assert (first.json["event"], first.json["test"]) == ("test", True)
    assert first.json["context"]["fields"]["Sent by"] == "alice"
    assert first.headers["Authorization"] == HOOK_TOKEN


async def test_a_test_message_reports_the_smtp_reply(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        smtp_server() as mailbox,
        service(tmp_path, file_config(sqlite_url, receiver.url, mailbox.port), clock) as running,
        api(running) as client,
    ):
        response = await client.post("/v1/destinations/oncall-mail/test")
        mailbox.refuse_recipients = {"oncall@example.com": "550 5.1.1 mailbox unavailable"}
        refused = await client.post("/v1/destinations/oncall-mail/test")
    assert response.status_code == 200, response.text
    (answer,) = response.json()["answers"]
    assert answer["summary"] == "SMTP 2.0.0 Ok: queued as M1"
    (mail,) = mailbox.mails
    assert mail.message["Subject"] == "[TEST] Tocsin test message to oncall-mail"
    assert refused.status_code == 502
    assert "550 5.1.1 mailbox unavailable" in refused.json()["answers"][0]["summary"]


async def test_a_test_message_to_an_unknown_destination_is_404(tmp_path, sqlite_url, clock):
    async with (
        hook_receiver() as receiver,
        service(tmp_path, file_config(sqlite_url, receiver.url), clock) as running,
        api(running) as client,
    ):
        response = await client.post("/v1/destinations/forged-name/test")
    assert response.status_code == 404
    assert "There is no destination named 'forged-name'" in response.json()["error"]
    assert receiver.received == []


async def test_the_config_files_destination_wins_over_a_saved_one_of_its_name(
    tmp_path, sqlite_url, clock, monkeypatch
):
    monkeypatch.setenv("TOCSIN_SECRET_KEY", KEY)
    async with hook_receiver() as receiver:
        text = file_config(sqlite_url, receiver.url)
        async with service(tmp_path, text, clock) as running, api(running) as client:
            await client.post("/v1/destinations", json={"name": "payments", "slack": "C0SAVED"})
        text = text.replace("destinations:\n", "destinations:\n  payments: {slack: C0FILE}\n")
        async with service(tmp_path, text, clock) as running, api(running) as client:
            (problem,) = running.core.destinations.load_errors
            listed = (await client.get("/v1/destinations/payments")).json()
            targets = running.core.announcer.routing.targets(["payments"])
    assert "saved destination 'payments' is ignored" in problem
    assert (listed["origin"], listed["slack"], targets) == ("file", "C0FILE", ("slack:C0FILE",))
