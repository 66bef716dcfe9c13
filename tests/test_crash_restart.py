"""kill -9 at any moment: after restart no incident is lost or duplicated and every
pending notification is delivered, once (DESIGN.md, "Targets"; docs/architecture.md,
"Crash safety").

`python run.py` runs as a real process on a database file (or a PostgreSQL database),
with Slack configured against the fake Slack served by this test process
(tests/fake_slack.py), while a pusher sends latency samples over HTTP that make several
series open, escalate, de-escalate, resolve and breach again. The process is killed
with SIGKILL at seeded random moments (some during start-up), and on purpose while
Slack holds a request: before Slack did anything (killed between claiming a
notification and sending it) and after Slack did the work but before it answered
(killed between sending and recording). It is restarted on the same database each
time. After each kill the database is checked while nothing runs, and what Slack
received so far is checked for anything shown twice. At the end the service settles
on normal readings, stops with SIGTERM, and both are checked for what a user would
notice: a series with two live incidents, an incident whose timeline does not add up,
an incident not shown in exactly one message, a change missing from Slack or shown
twice, a notification never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, Hold, running_fake_slack
from sqlalchemy import func, select, text

from storage.db import Database
from storage.models import IncidentEventRow, IncidentRow, OutboxRow, SeriesStateRow

REPO = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("TOCSIN_CRASH_SEED", "20240611"))
KILLS = 7
SLACK_CHANNEL = "C0CRASH"
CHANNELS = (f"slack:{SLACK_CHANNEL}",)
ROUTES = ("/a", "/b", "/c")
RULES = ("crash-reopen", "crash-fresh")
CONFIG = f"""
timer_interval: 1
slack:
  channel: {SLACK_CHANNEL}
rules:
  - name: crash-reopen          # breaching again within the cooldown reopens
    metric: latency
    aggregate: max
    window: 2s
    interval: 1s
    group_by: [route]
    thresholds: {{warning: 500, critical: 2000}}
    breaches_to_open: 2
    normals_to_resolve: 2
    max_per_hour: 0             # every incident is posted (caps are tested elsewhere)
  - name: crash-fresh           # no cooldown: every episode is a new incident
    metric: latency
    aggregate: max
    window: 2s
    interval: 1s
    group_by: [route]
    thresholds: {{warning: 500, critical: 2000}}
    breaches_to_open: 2
    normals_to_resolve: 2
    cooldown: 0
    max_per_hour: 0
"""

# One episode per route every PERIOD seconds, the routes out of step with each other:
# warning, critical (escalates), warning again (de-escalates), then normal (resolves).
PERIOD = 10.5
EPISODE = ((2.5, 900.0), (4.0, 3000.0), (6.0, 900.0), (PERIOD, 100.0))
NORMAL = 100.0
LIVE = ("open", "acknowledged")
LEASE = 10.0  # bot.delivery.dispatcher.LEASE: a killed process's claims wait this long
HOLDS = (  # the first kills: while Slack holds one of these requests
    ("chat.postMessage", False),  # killed between claiming and sending: Slack never got it
    ("chat.postMessage", True),  # between sending and recording: posted, answer never came
    ("chat.update", True),  # the same for an edit, and the thread line that follows it
)
STARTED = b"\n===== start =====\n"
UP = re.compile(rb"Tocsin is up: .*, HTTP on http://[^ ]+:(\d+),")
SHOWN = re.compile(r"#(\d+) (?:INFO|WARNING|ERROR|CRITICAL) crash-")
"""An incident's title in a Slack message's text (one title, or a storm's list)."""
pytestmark = pytest.mark.slow


def latency(route_index: int, elapsed: float) -> float:
    phase = (elapsed + route_index * PERIOD / len(ROUTES)) % PERIOD
    return next(value for end, value in EPISODE if phase < end)


@dataclass
class Harness:
    database_url: str
    config: Path
    log: Path
    slack_api_url: str
    port: int | None = None
    """The port the running process took (it binds port 0 and logs it), once known."""
    normal_only: bool = False
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        environment = {
            **os.environ,
            "TOCSIN_DATABASE_URL": self.database_url,
            "TOCSIN_CONFIG": str(self.config),
            "TOCSIN_HTTP_PORT": "0",
            "TOCSIN_HTTP_HOST": "127.0.0.1",
            "TOCSIN_API_TOKEN": "",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TOCSIN_SLACK_API_URL": self.slack_api_url,
            "COLUMNS": "200",
        }
        self.port = None
        with self.log.open("ab") as log:
            log.write(STARTED)
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "run.py",
                cwd=REPO,
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    def _port_from_log(self) -> int | None:
        """The port in this run's start-up line ("HTTP on http://127.0.0.1:PORT")."""
        run = self.log.read_bytes().rsplit(STARTED, 1)[-1] if self.log.exists() else b""
        found = UP.search(run)
        return int(found[1]) if found else None

    async def wait_healthy(self, deadline: float = 30.0) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            until = time.monotonic() + deadline
            while time.monotonic() < until:
                assert self.process is not None and self.process.returncode is None, (
                    f"the service ended while starting:\n{self.tail()}"
                )
                self.port = self.port or self._port_from_log()
                if self.port is None:
                    await asyncio.sleep(0.05)
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the service never became healthy:\n{self.tail()}")

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.port = None  # free again: another process may take it

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 20)

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def push_forever(self, started: float) -> None:
        """A service reporting each route's latency five times a second, whichever
        process is up; refused or unanswered pushes (while it is down) are dropped."""
        async with httpx.AsyncClient(timeout=1) as client:
            while True:
                self.port = self.port or self._port_from_log()
                if self.port is None:  # starting: the pushes of a real service fail too
                    await asyncio.sleep(0.2)
                    continue
                url = f"http://127.0.0.1:{self.port}/v1/samples"
                elapsed = time.monotonic() - started
                samples = [
                    {
                        "metric": "latency",
                        "value": NORMAL if self.normal_only else latency(i, elapsed),
                        "labels": {"route": route},
                    }
                    for i, route in enumerate(ROUTES)
                ]
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(url, json={"samples": samples})
                await asyncio.sleep(0.2)


@dataclass
class Snapshot:
    incidents: list[IncidentRow]
    events: list[IncidentEventRow]
    outbox: list[OutboxRow]
    series: list[SeriesStateRow]


async def snapshot(database_url: str) -> Snapshot:
    db = Database(database_url)
    try:
        async with db.read() as session:
            if not db.is_sqlite:  # one snapshot for every table (SQLite's read is one)
                await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            return Snapshot(
                incidents=list((await session.scalars(select(IncidentRow))).all()),
                events=list((await session.scalars(select(IncidentEventRow).order_by("id"))).all()),
                outbox=list((await session.scalars(select(OutboxRow).order_by("id"))).all()),
                series=list((await session.scalars(select(SeriesStateRow))).all()),
            )
    finally:
        await db.close()


async def settled(database_url: str) -> bool:
    """Every incident resolved and every notification delivered."""
    db = Database(database_url)
    try:
        async with db.read() as session:
            live = await session.scalar(
                select(func.count()).select_from(IncidentRow).where(IncidentRow.status.in_(LIVE))
            )
            pending = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.delivered_at.is_(None))
            )
        return live == 0 and pending == 0
    except Exception:  # e.g. the schema is not there yet
        return False
    finally:
        await db.close()


# What may follow what in a timeline, starting from "opened".
NEXT_STATUS = {
    ("open", "escalated"): "open",
    ("open", "deescalated"): "open",
    ("open", "resolved"): "resolved",
    ("resolved", "reopened"): "open",
}


def problems(snap: Snapshot) -> list[str]:
    """What a user would notice, in a database no process is writing to."""
    found: list[str] = []
    incidents = {i.id: i for i in snap.incidents}
    events: dict[int, list[IncidentEventRow]] = defaultdict(list)
    for event in snap.events:
        events[event.incident_id].append(event)

    live_by_series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for incident in snap.incidents:
        if incident.status in LIVE:
            live_by_series[(incident.rule, incident.series_key)].append(incident.id)
    for series, ids in live_by_series.items():
        if len(ids) > 1:
            found.append(f"series {series}: {len(ids)} unresolved incidents {sorted(ids)}")

    pointers = {(s.rule, s.series_key): s.incident_id for s in snap.series}
    for series, ids in live_by_series.items():
        if pointers.get(series) not in ids:
            found.append(
                f"series {series}: unresolved incident(s) {ids} but the series state points at "
                f"{pointers.get(series)} (it can never auto-resolve)"
            )
    for series, pointer in pointers.items():
        if pointer is not None and pointer not in live_by_series.get(series, []):
            status = incidents[pointer].status if pointer in incidents else "missing"
            found.append(f"series {series}: state points at incident {pointer}, {status}")

    for incident in snap.incidents:
        timeline = events.get(incident.id, [])
        kinds = [e.kind for e in timeline]
        if kinds[:1] != ["opened"] or kinds.count("opened") != 1:
            found.append(f"incident {incident.id}: timeline {kinds} (want one 'opened', first)")
            continue
        status = "open"
        for kind in kinds[1:]:
            after = NEXT_STATUS.get((status, kind))
            if after is None:
                found.append(f"incident {incident.id}: '{kind}' while {status}: {kinds}")
                break
            status = after
        else:
            shown = "resolved" if incident.status == "resolved" else "open"
            if status != shown:
                found.append(
                    f"incident {incident.id}: status {incident.status} but timeline {kinds}"
                )
        if incident.reopen_count != kinds.count("reopened"):
            found.append(
                f"incident {incident.id}: reopen_count {incident.reopen_count}, timeline {kinds}"
            )

    expected = Counter(
        (e.incident_id, e.kind, channel) for e in snap.events for channel in CHANNELS
    )
    queued = Counter((o.incident_id, o.event, o.channel) for o in snap.outbox)
    for key in sorted(set(expected) | set(queued), key=str):
        if expected[key] != queued[key]:
            found.append(
                f"incident {key[0]} '{key[1]}' on #{key[2]}: {expected[key]} timeline "
                f"event(s) but {queued[key]} outbox row(s)"
            )
    streams: dict[tuple[int | None, str], list[OutboxRow]] = defaultdict(list)
    for row in snap.outbox:  # in id order
        if row.incident_id not in incidents:
            found.append(f"outbox row {row.id} for missing incident {row.incident_id}")
        streams[(row.incident_id, row.channel)].append(row)
    for (incident_id, channel), rows in streams.items():
        # An incident's messages reach a channel in the order they were written: an edit
        # that overtook the message it edits would post anew, then be undone by it.
        for before, after in itertools.pairwise(rows):
            if after.delivered_at is not None and (
                before.delivered_at is None or before.delivered_at > after.delivered_at
            ):
                found.append(
                    f"incident {incident_id} on #{channel}: '{after.event}' (row {after.id}) "
                    f"delivered before '{before.event}' (row {before.id})"
                )
    return found


def metadata_of(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return metadata.get("event_payload") or {}


def shown_in(post: dict[str, Any]) -> set[int]:
    """The incidents a top-level Slack message shows now (its text, as last edited)."""
    return {int(found) for found in SHOWN.findall(unescape(post.get("text", "")))}


@dataclass
class Received:
    """What the fake Slack holds in the alert channel."""

    posts: list[dict[str, Any]]
    lines: list[dict[str, Any]]

    @classmethod
    def of(cls, fake: FakeSlack) -> Received:
        messages = fake.messages.get(SLACK_CHANNEL, [])
        return cls(
            posts=[m for m in messages if not m.get("thread_ts")],
            lines=[m for m in messages if m.get("thread_ts")],
        )

    def messages_showing(self) -> dict[int, list[str]]:
        """Incident -> the top-level messages (their ts) that show it."""
        where: dict[int, list[str]] = defaultdict(list)
        for post in self.posts:
            for incident in shown_in(post):
                where[incident].append(post["ts"])
        return where

    def lines_by_row(self) -> Counter[int | None]:
        """Outbox row -> how many thread lines it left (each line names its row)."""
        return Counter(metadata_of(line).get("row") for line in self.lines)


def shown_twice(received: Received) -> list[str]:
    """What Slack shows more than once: at any moment, even before a restart has
    caught up."""
    texts = {post["ts"]: unescape(post.get("text", ""))[:200] for post in received.posts}
    found = [
        f"incident {incident} is shown in {len(where)} Slack messages: "
        + "; ".join(f"{ts} {texts[ts]!r}" for ts in where)
        for incident, where in sorted(received.messages_showing().items())
        if len(where) > 1
    ]
    for row, count in sorted(received.lines_by_row().items(), key=str):
        if row is None:
            found.append(f"{count} thread line(s) naming no outbox row")
        elif count > 1:
            found.append(f"outbox row {row}: {count} thread lines (want one)")
    return found


def platform_problems(snap: Snapshot, received: Received) -> list[str]:
    """Once everything is delivered: each incident in exactly one Slack message, and
    each of its timeline events there exactly once: its opening by the message that
    shows it (its own post, or the storm message it joined), every later change by a
    thread line (whose edit goes with it)."""
    found = shown_twice(received)
    where = received.messages_showing()
    lines = received.lines_by_row()
    for incident in snap.incidents:
        if len(where.get(incident.id, [])) != 1:
            found.append(f"incident {incident.id} is shown in {where.get(incident.id)} on Slack")
    for row in snap.outbox:
        in_message = row.event == "opened" and len(where.get(row.incident_id, [])) == 1
        shown = lines[row.id] + in_message
        if shown != 1:
            found.append(
                f"incident {row.incident_id} '{row.event}' (outbox row {row.id}) is on Slack "
                f"{shown} times as a message or thread line (want once)"
            )
    return found


async def kill_while_slack_holds(harness: Harness, hold: Hold, fake: FakeSlack) -> None:
    """Kill the process once Slack holds its request (see HOLDS), then let go."""
    try:
        await asyncio.wait_for(hold.held.wait(), 30)
    except TimeoutError:
        raise AssertionError(f"no {hold.method} call came to hold:\n{harness.tail()}") from None
    await harness.kill()
    fake.release()


async def test_kill_9_at_random_moments_loses_and_doubles_nothing(database_url, tmp_path):
    async with running_fake_slack() as fake:
        await kill_and_restart(database_url, tmp_path, fake)


async def kill_and_restart(database_url: str, tmp_path: Path, fake: FakeSlack) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG)
    harness = Harness(database_url, config, tmp_path / "service.log", fake.api_url)
    rng = random.Random(SEED)
    started = time.monotonic()
    pusher = asyncio.ensure_future(harness.push_forever(started))
    try:
        for cycle in range(KILLS):
            await harness.start()
            if cycle < len(HOLDS):
                await harness.wait_healthy()
                await kill_while_slack_holds(harness, fake.hold(*HOLDS[cycle]), fake)
            elif rng.random() < 0.25:  # during start-up
                await asyncio.sleep(rng.uniform(0.0, 1.0))
                await harness.kill()
            else:
                await harness.wait_healthy()
                await asyncio.sleep(rng.uniform(0.3, 3.5))
                await harness.kill()
            found = problems(await snapshot(database_url)) + shown_twice(Received.of(fake))
            assert not found, f"after kill {cycle + 1} (seed {SEED}):\n" + "\n".join(found)

        # The final run: the routes recover, everything resolves and is delivered.
        harness.normal_only = True
        await harness.start()
        await harness.wait_healthy()
        # A row claimed by a killed process waits out its lease before it goes again.
        deadline = time.monotonic() + LEASE + 15
        while time.monotonic() < deadline:
            if await settled(database_url):
                break
            await asyncio.sleep(0.5)
        assert await harness.terminate() == 0, harness.tail()
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
        fake.release()
        if harness.process is not None and harness.process.returncode is None:
            await harness.kill()

    snap = await snapshot(database_url)
    received = Received.of(fake)
    found = problems(snap) + platform_problems(snap, received)
    live = [i.id for i in snap.incidents if i.status in LIVE]
    if live:
        found.append(f"incidents {live} still unresolved after the routes recovered")
    pending = [(o.id, o.incident_id, o.event, o.channel) for o in snap.outbox if not o.delivered_at]
    if pending:
        found.append(f"outbox rows never delivered (id, incident, event, channel): {pending}")
    assert not found, f"seed {SEED}:\n" + "\n".join(found) + "\n" + harness.tail()
    # The run exercised what it claims to: incidents opened and resolved, storms formed,
    # and posts and edits were cut off by the kills.
    kinds = Counter(e.kind for e in snap.events)
    storms = sum(len(shown_in(post)) > 1 for post in received.posts)
    print(
        f"seed {SEED}: {len(snap.incidents)} incidents, timeline {dict(kinds)}; on Slack "
        f"{len(received.posts)} messages ({storms} storms), {len(received.lines)} thread lines"
    )
    assert kinds["opened"] >= 2 and kinds["resolved"] >= 2, kinds
    retried = [row for row in snap.outbox if row.attempts > 1]
    assert retried, "no notification was cut off by a kill and sent again"
