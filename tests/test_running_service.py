"""`python run.py` as an operator runs it: a real process, real HTTP, real signals.

The service binds port 0 and the tests read the port it took from its start-up line
("HTTP on http://127.0.0.1:PORT"), so no two runs race for a port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import IncidentRow

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
UP = re.compile(r"Tocsin is up: .*, HTTP on http://[^ ]+:(\d+),")
CONFIG = """
timer_interval: 1
rules:
  - name: fast-api
    metric: latency
    aggregate: max
    window: 2s
    interval: 1s
    thresholds: {warning: 500}
"""


async def start(tmp_path: Path, config: str = CONFIG, **env: str) -> asyncio.subprocess.Process:
    path = tmp_path / "tocsin.yaml"
    path.write_text(config)
    environment = {
        **os.environ,
        "TOCSIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}",
        "TOCSIN_CONFIG": str(path),
        "TOCSIN_HTTP_PORT": "0",
        "COLUMNS": "200",
        **env,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "run.py",
        cwd=REPO,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def read_until(
    process: asyncio.subprocess.Process, text: str, seen: list[str], deadline: float = 30.0
) -> None:
    async def scan() -> None:
        while True:
            line = await process.stdout.readline()
            if not line:
                raise AssertionError(f"process ended before printing {text!r}:\n{''.join(seen)}")
            seen.append(line.decode())
            if text in seen[-1]:
                return

    await asyncio.wait_for(scan(), deadline)


async def port_of(process: asyncio.subprocess.Process, seen: list[str]) -> int:
    """The port the service took, from its start-up line."""
    await read_until(process, "Tocsin is up:", seen)
    found = UP.search(seen[-1])
    assert found, seen[-1]
    return int(found[1])


async def wait_healthy(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the service never became healthy")


async def keep_pushing(port: int, value: float) -> None:
    """A service pushing its latency a few times a second, until cancelled."""
    body = {"samples": [{"metric": "latency", "value": value}]}
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            response = await client.post(f"http://127.0.0.1:{port}/v1/samples", json=body)
            assert response.status_code == 202
            await asyncio.sleep(0.2)


async def test_prints_incidents_without_a_terminal_and_stops_cleanly_on_sigterm(tmp_path):
    process = await start(tmp_path)
    seen: list[str] = []
    try:
        port = await port_of(process, seen)
        await wait_healthy(port)
        pusher = asyncio.ensure_future(keep_pushing(port, 900))
        try:
            await read_until(process, "Opened after 2 consecutive breaches", seen)
            await read_until(process, "#1 WARNING fast-api", seen)
        finally:
            pusher.cancel()
        process.send_signal(signal.SIGTERM)
        await read_until(process, "stopped cleanly", seen)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}")
    try:
        async with db.read() as session:
            incidents = (await session.scalars(select(IncidentRow))).all()
        assert [(i.rule, i.status) for i in incidents] == [("fast-api", "open")]
    finally:
        await db.close()


async def test_the_startup_line_counts_rules_in_english(tmp_path):
    """The config has one rule: "1 rule", not "1 rules"."""
    process = await start(tmp_path)
    seen: list[str] = []
    try:
        await read_until(process, "Tocsin is up:", seen)
        assert "Tocsin is up: 1 rule, HTTP on" in seen[-1], seen[-1]
        process.send_signal(signal.SIGTERM)
        await read_until(process, "stopped cleanly", seen)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_refuses_to_listen_publicly_without_an_api_token(tmp_path):
    process = await start(tmp_path, TOCSIN_HTTP_HOST="0.0.0.0", TOCSIN_API_TOKEN="")
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert b"TOCSIN_API_TOKEN" in output
    assert b"HTTP on" not in output  # it never listened


async def test_the_demo_plays_through_on_its_own(tmp_path):
    """`run.py demo --no-input`: opens on the second breach, escalates, is acknowledged
    and resolves itself, well inside the two minutes promised."""
    (tmp_path / "none.yaml").write_text("rules: []\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "run.py",
        "demo",
        "--no-input",
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", "TOCSIN_CONFIG": str(tmp_path / "none.yaml")},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 110)
    text = output.decode()
    assert process.returncode == 0, text
    for step in (
        "Opened after 2 consecutive breaches",
        "Escalated warning -> critical",
        "Acknowledged #1",
        "Resolved automatically after 3 normal readings",
    ):
        assert step in text, f"{step!r} missing from:\n{text}"


KEPT = """
timer_interval: 1
rules:
  - name: kept-window
    metric: latency
    aggregate: max
    window: 30s
    interval: 1s
    breaches_to_open: 8
    thresholds: {warning: 500}
"""


async def test_the_window_survives_kill_9(tmp_path):
    """One slow request, then the process is killed (no clean stop) and started again:
    the rule still sees the request in its 30 s window and keeps counting breaches to
    8. Before the window journal the restart emptied the window: "no data" from then
    on, and the incident never opened."""
    process = await start(tmp_path, KEPT)
    seen: list[str] = []
    try:
        port = await port_of(process, seen)
        async with httpx.AsyncClient() as client:
            body = {"samples": [{"metric": "latency", "value": 900}]}
            pushed = await client.post(f"http://127.0.0.1:{port}/v1/samples", json=body)
            assert pushed.status_code == 202
        await asyncio.sleep(2.5)  # the journal is flushed every second
        process.kill()
        await process.wait()
        assert not any("Opened after" in line for line in seen)
        process = await start(tmp_path, KEPT)
        await read_until(process, "Opened after 8 consecutive breaches", seen, deadline=30)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
