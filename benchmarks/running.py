"""What the benchmarks share: the real ``run.py`` and the fake Slack of the tests, each
in a process of its own, as in production, and their addresses read from what they
print (both bind port 0)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fake_slack import BOT_TOKEN, SIGNING_SECRET


async def spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(stream: asyncio.StreamReader, pattern: str) -> re.Match[str]:
    while True:
        line = (await asyncio.wait_for(stream.readline(), 60)).decode()
        if not line:
            raise RuntimeError(f"a process ended before printing {pattern!r}")
        found = re.search(pattern, line)
        if found:
            return found


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@dataclass
class Running:
    process: asyncio.subprocess.Process
    url: str
    _drains: list[asyncio.Future[None]]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        for drain in self._drains:
            drain.cancel()


@asynccontextmanager
async def fake_slack() -> AsyncIterator[Running]:
    process = await spawn("tests/fake_slack.py")
    assert process.stdout is not None and process.stderr is not None
    url = (await read_until(process.stdout, r"(http://\S+)"))[1]
    running = Running(process, url, [asyncio.ensure_future(_drain(process.stderr))])
    try:
        yield running
    finally:
        await running.stop()


@asynccontextmanager
async def tocsin(folder: Path, config: str, slack_url: str) -> AsyncIterator[Running]:
    """``run.py`` with ``config``, a SQLite database in ``folder`` and Slack configured
    against the fake at ``slack_url``; ``url`` is its HTTP address."""
    path = folder / "tocsin.yaml"
    path.write_text(config)
    env = {
        **os.environ,
        "TOCSIN_CONFIG": str(path),
        "TOCSIN_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tocsin.db'}",
        "TOCSIN_HTTP_PORT": "0",
        "TOCSIN_LOG_LEVEL": "INFO",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "TOCSIN_SLACK_API_URL": f"{slack_url}/api/",
    }
    process = await spawn("run.py", env=env)
    assert process.stdout is not None and process.stderr is not None
    url = (await read_until(process.stderr, r"HTTP on (http://[^,\s]+)"))[1]
    drains = [asyncio.ensure_future(_drain(s)) for s in (process.stdout, process.stderr)]
    running = Running(process, url, drains)
    try:
        yield running
    finally:
        await running.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
