"""A Tocsin service wired from a real config file (settings, core, dispatcher, the
email and webhook adapters, test messages) without its HTTP server or scheduler:
tests open incidents with pushed samples and engine ticks, then deliver the outbox."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from command_helpers import push_and_tick
from rich.console import Console
from sqlalchemy import select

import run
from bot.adapters.console import ConsoleAdapter
from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.service import Service
from bot.settings import load_settings
from storage.models import IncidentRow, OutboxRow
from storage.vocabulary import IncidentKind

SECRET = "s3cret"
RULE = """
rules:
  - name: slow-api
    metric: api.latency
    aggregate: avg
    window: 1m
    interval: 1m
    group_by: [route]
    thresholds: {{warning: 500, critical: 2000}}
    runbook: https://wiki.example/slow-api
    channels: [{channels}]
"""


def email_section(port: int, sender: str = "tocsin@example.com") -> str:
    return f"email: {{host: 127.0.0.1, port: {port}, from: {sender}, starttls: false}}\n"


def config(database_url: str, channels: str, extra: str = "") -> str:
    return f"database_url: {database_url}\n{extra}\n" + RULE.format(channels=channels)


@asynccontextmanager
async def service(tmp_path: Path, text: str, clock: Any) -> AsyncIterator[Service]:
    """The service for config ``text``, on the database it names."""
    path = tmp_path / "tocsin.yaml"
    path.write_text(text)
    settings = load_settings(path)
    console = ConsoleAdapter(Console(file=io.StringIO(), width=120))
    running = await Service.create(settings, interactive=False, console=console, clock=clock)
    try:
        yield running
    finally:
        await running.core.close()


async def open_incident(
    running: Service, clock: Any, route: str = "/checkout", value: float = 900
) -> None:
    await push_and_tick(running.core, clock, {route: value})


async def outbox(running: Service) -> list[OutboxRow]:
    """The outbox rows of the tests' incidents, oldest first; the rows announcing
    Tocsin's own "delivery failing" incident (posted elsewhere) are left out."""
    async with running.core.db.read() as session:
        own = select(IncidentRow.id).where(IncidentRow.kind == IncidentKind.DELIVERY_FAILING)
        query = select(OutboxRow).where(OutboxRow.incident_id.not_in(own)).order_by(OutboxRow.id)
        return list((await session.scalars(query)).all())


@asynccontextmanager
async def api(running: Service, token: str = "t0ken") -> AsyncIterator[httpx.AsyncClient]:
    """The service's HTTP API on 127.0.0.1, port 0, and a client with the token."""
    app = build_app(running.core, api_token=token, metrics=running.metrics)
    runner, port = await start_server(app, "127.0.0.1", 0, token)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            yield client
    finally:
        await stop_server(runner)


def check_config(tmp_path: Path, text: str, capsys: Any) -> tuple[int, str]:
    """``run.py check-config`` on ``text``: its exit status and everything it printed."""
    path = tmp_path / "tocsin.yaml"
    path.write_text(text)
    status = run.main(["check-config", str(path)])
    out = capsys.readouterr()
    return status, out.out + out.err
