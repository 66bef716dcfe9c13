"""Rules as code: the config file is the source of truth, and what chat or the API saves
over it is an override that shows itself, goes away when it matches the file again, can
be reset, and is reported at start-up once the file has moved on (docs/rules.md)."""

from __future__ import annotations

import io
import logging

from command_helpers import (
    ALICE,
    BOB,
    ERROR_RATE,
    SLOW_API,
    incident_for,
    ok,
    push_and_tick,
    set_rule,
)
from command_helpers import refused as refused_command
from http_harness import serve
from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from bot.service import Service
from bot.settings import Settings
from monitors.core import Core
from monitors.mentions import plain
from monitors.rules.schema import Rule
from storage.repositories import RuleRepository


def slow_api(**changes) -> Rule:
    """The config file's slow-api, as a later commit of the file might have it."""
    return Rule.model_validate({**SLOW_API.to_json(), **changes})


async def open_with(url: str, clock, *file_rules: Rule) -> Core:
    return await Core.open(url, file_rules or (SLOW_API, ERROR_RATE), clock=clock)


async def saved_rows(core: Core) -> list[str]:
    async with core.db.read() as session:
        return [row.name for row in await RuleRepository(session).all()]


async def test_disable_then_enable_leaves_the_rule_following_the_file(database_url, clock):
    """One /rule disable and /rule enable used to pin the rule as "saved" for good, and
    every later edit of the file was silently ignored."""
    core = await open_with(database_url, clock)
    await ok(core, "/rule disable slow-api")
    await ok(core, "/rule enable slow-api")
    assert core.rulebook.origin("slow-api").source == "file"
    assert await saved_rows(core) == []
    await core.close()
    edited = slow_api(thresholds={"warning": 700, "critical": 2000})
    core = await open_with(database_url, clock, edited, ERROR_RATE)
    try:
        assert core.rulebook.get("slow-api").thresholds["warning"] == 700  # the edit applies
        assert core.admin_notices == []
    finally:
        await core.close()


async def test_an_edit_back_to_the_files_values_drops_the_override(core_each_db):
    core = core_each_db
    await set_rule(core, "/rule set slow-api 1000")
    assert core.rulebook.origin("slow-api").source == "override"
    reply = await set_rule(core, "/rule set slow-api 500")
    assert "500" in reply.text
    assert core.rulebook.origin("slow-api").source == "file"
    assert await saved_rows(core) == []


async def test_show_says_where_the_values_come_from_and_what_differs(core):
    assert (await ok(core, "/rule show slow-api")).text.splitlines()[1] == "origin: config file"
    await set_rule(core, "/rule set slow-api 1000")
    await ok(core, "/rule disable slow-api")
    lines = (await ok(core, "/rule show slow-api")).text.splitlines()
    assert lines[1].startswith("origin: saved by alice (console) at ")
    assert lines[1].endswith(", overriding the config file's rule")
    assert lines[-2:] == [
        "differs from the config file in: thresholds.warning (file 500, saved 1000); "
        "enabled (file true, saved false)",
        "/rule reset slow-api returns it to the config file",
    ]


async def test_reset_returns_a_rule_to_the_file_and_resolves_what_it_strands(core_each_db, clock):
    core = core_each_db
    await push_and_tick(core, clock, {"/checkout": 900})
    await core.rules.update("slow-api", {"thresholds": {"warning": 400}}, ALICE)
    await core.rules.update("slow-api", {"group_by": []}, ALICE)  # resolves the incident
    assert (await incident_for(core, "/checkout")).status == "resolved"
    await push_and_tick(core, clock, {"/checkout": 900})
    (stranded,) = await core.incidents.list()  # one for the rule's single series now
    assert stranded.labels == {}
    reply = await ok(core, "/rule reset slow-api")
    assert reply.text == (
        "slow-api follows the config file again: the saved version was dropped, and "
        "later edits of the file apply at the next start."
    )
    assert core.rulebook.get("slow-api") == SLOW_API
    assert core.rulebook.origin("slow-api").source == "file"
    assert await saved_rows(core) == []
    # Back to one series per route: the ungrouped series' incident could never resolve.
    assert await core.incidents.list() == []
    _, events = await core.incidents.show(stranded.id)
    assert plain(events[-1].detail) == "Resolved: rule slow-api was changed by alice"
    again = await ok(core, "/rule reset slow-api")
    assert again.text == "slow-api already follows the config file; nothing was changed."


async def test_reset_refusals_change_nothing(core):
    reply = await refused_command(core, "/rule reset slow-api", BOB)
    assert "needs the admin role" in reply.text
    reply = await refused_command(core, "/rule reset slow-ap")
    assert "There is no rule named 'slow-ap'. Did you mean slow-api?" in reply.text
    await core.rules.create(
        {"name": "api-only", "metric": "m", "thresholds": {"warning": 1}}, ALICE
    )
    reply = await refused_command(core, "/rule reset api-only")
    assert reply.text == (
        "api-only is not in the config file, so there is no file version to return to; "
        "delete it through the API (DELETE /v1/rules/api-only) if it should go. "
        "Nothing was changed."
    )


async def test_the_api_shows_origin_and_resets(database_url, clock):
    async with serve(database_url, clock) as api:
        shown = (await api.client.get("/v1/rules/slow-api")).json()
        assert shown["origin"] == {"source": "file"}
        patch = {"thresholds": {"warning": 600}, "runbook": "https://wiki.example/x"}
        patched = (await api.client.patch("/v1/rules/slow-api", json=patch)).json()
        origin = patched["origin"]
        assert (origin["source"], origin["updated_by"], origin["file_changed"]) == (
            "override",
            "api (api)",
            False,
        )
        assert origin["differs"] == [
            {"field": "thresholds.warning", "file": 500.0, "saved": 600.0},
            {"field": "runbook", "file": "", "saved": "https://wiki.example/x"},
        ]
        reset = await api.client.post("/v1/rules/slow-api/reset")
        assert reset.status_code == 200, reset.text
        assert reset.json()["reset"] is True
        assert reset.json()["rule"]["thresholds"]["warning"] == 500.0
        assert reset.json()["rule"]["origin"] == {"source": "file"}
        assert (await api.client.post("/v1/rules/slow-api/reset")).json()["reset"] is False
        # A rule deleted through the API stays deleted until it is reset.
        assert (await api.client.delete("/v1/rules/slow-api")).status_code == 200
        assert (await api.client.get("/v1/rules/slow-api")).status_code == 404
        back = await api.client.post("/v1/rules/slow-api/reset")
        assert back.json()["reset"] is True
        assert (await api.client.get("/v1/rules/slow-api")).json()["origin"] == {"source": "file"}
        missing = await api.client.post("/v1/rules/nope/reset")
        assert missing.status_code == 404


async def test_an_override_of_a_changed_file_rule_is_reported_at_start(database_url, clock):
    core = await open_with(database_url, clock)
    await set_rule(core, "/rule set slow-api 1000")
    await core.close()
    core = await open_with(database_url, clock)  # the same file: nothing to report
    assert core.admin_notices == []
    await core.close()
    edited = slow_api(window="5m")  # someone changed the rule in git since
    core = await open_with(database_url, clock, edited, ERROR_RATE)
    try:
        assert core.rulebook.get("slow-api").thresholds["warning"] == 1000  # it still applies
        (notice,) = core.admin_notices
        assert notice.startswith("Rule slow-api: the saved override by alice (console) (")
        assert notice.endswith(
            "still applies, but the config file's rule changed since it was saved. It differs "
            "from the file in: window, thresholds.warning. /rule show slow-api compares them; "
            "/rule reset slow-api takes the file's."
        )
        shown = (await ok(core, "/rule show slow-api")).text
        assert "the config file's rule has changed since this was saved" in shown
    finally:
        await core.close()


async def test_an_override_saved_before_versions_were_recorded_is_reported(database_url, clock):
    """Rows from before migration trust_0001 have no file version: the file may have
    moved on, and no one would know."""
    core = await open_with(database_url, clock)
    async with core.db.transaction() as session:
        spec = slow_api(thresholds={"warning": 900, "critical": 2000}).to_json()
        await RuleRepository(session).save("slow-api", spec, clock(), "carol (api)", None)
    await core.close()
    core = await open_with(database_url, clock)
    try:
        (notice,) = core.admin_notices
        assert notice.startswith("Rule slow-api: the saved override by carol (api) (")
        assert (
            "but the config file's rule may have changed: the override was saved before "
            "Tocsin recorded file versions. It differs from the file in: thresholds.warning."
        ) in notice
    finally:
        await core.close()


async def test_a_file_that_catches_up_with_an_override_drops_it(database_url, clock):
    core = await open_with(database_url, clock)
    await set_rule(core, "/rule set slow-api 1000")
    await core.close()
    caught_up = slow_api(thresholds={"warning": 1000, "critical": 2000})
    core = await open_with(database_url, clock, caught_up, ERROR_RATE)
    try:
        assert core.rulebook.origin("slow-api").source == "file"
        assert await saved_rows(core) == []
        assert core.admin_notices == [
            "Rule slow-api: the config file now says what the saved override said, so the "
            "override was dropped and the rule follows the file again."
        ]
    finally:
        await core.close()


async def test_deleted_and_removed_rules_are_reported_when_the_file_moves_on(database_url, clock):
    core = await open_with(database_url, clock)
    await core.rules.delete("slow-api", ALICE)
    await set_rule(core, "/rule set error-rate 20 error")
    await core.close()
    core = await open_with(database_url, clock, slow_api(window="5m"))  # error-rate is gone
    try:
        assert core.rulebook.get("slow-api") is None  # it stays deleted
        deleted, removed = core.admin_notices
        assert deleted.startswith("Rule error-rate: removed from the config file, but the ")
        assert deleted.endswith(
            "saved still runs; delete it through the API (DELETE /v1/rules/error-rate) if it "
            "should stop."
        )
        assert removed.startswith("Rule slow-api: deleted by alice (console) (")
        assert removed.endswith(
            "and the config file's rule has changed since; it stays deleted. "
            "/rule reset slow-api brings back the file's."
        )
    finally:
        await core.close()


async def test_the_service_logs_the_report_and_shows_it_to_the_console_admin(
    sqlite_url, clock, caplog
):
    core = await open_with(sqlite_url, clock)
    await set_rule(core, "/rule set slow-api 1000")
    await core.close()
    settings = Settings(
        config_path=None,
        database_url=sqlite_url,
        http_host="127.0.0.1",
        http_port=0,
        api_token=None,
        log_level="INFO",
        timer_interval=5.0,
        console_admin=True,
        rules=[slow_api(window="5m"), ERROR_RATE],
    )
    screen = io.StringIO()
    console = ConsoleAdapter(Console(file=screen, width=300, highlight=False))
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        service = await Service.create(settings, interactive=False, console=console)
        try:
            await service.start()
        finally:
            await service.stop()
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Rule slow-api")]
    assert len(logged) == 1 and "changed since it was saved" in logged[0]
    assert "Rule slow-api: the saved override by alice (console)" in screen.getvalue()
