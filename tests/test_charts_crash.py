"""kill -9 around a chart: ``python run.py`` with charts on, against the fake Slack,
killed while Slack holds the chart's upload before doing anything (killed between the
post and the chart) and while it holds the sharing of an uploaded chart after doing it
(killed between attaching and recording). After each restart the chart is in the
message's thread exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from fake_slack import FakeSlack, running_fake_slack
from slack_harness import eventually
from test_crash_restart import Harness, kill_while_slack_holds

CHANNEL = "C0CHARTS"
CONFIG = f"""
timer_interval: 1
slack:
  channel: {CHANNEL}
rules:
  - name: chart-crash
    metric: latency
    aggregate: max
    window: 2s
    interval: 1s
    group_by: [route]
    thresholds: {{critical: 500}}  # never joins a storm: a message (and a chart) each
    max_per_hour: 0
"""
HOLDS = (
    ("/a", "files.getUploadURLExternal", False),  # the post is out, the chart not begun
    ("/b", "files.completeUploadExternal", True),  # the chart is shared, the answer lost
)
pytestmark = pytest.mark.slow


async def push_forever(harness: Harness, route: str) -> None:
    """A breaching reading of ``route`` five times a second, whichever process is up."""
    async with httpx.AsyncClient(timeout=1) as client:
        while True:
            if harness.port is not None:
                sample = {"metric": "latency", "value": 900, "labels": {"route": route}}
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(
                        f"http://127.0.0.1:{harness.port}/v1/samples", json={"samples": [sample]}
                    )
            await asyncio.sleep(0.2)


async def test_kill_9_around_the_chart_attaches_it_exactly_once(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_CHARTS", "true")  # the tests' default is off
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG)
    fake = FakeSlack()
    async with running_fake_slack(fake):
        harness = Harness(sqlite_url, config, tmp_path / "service.log", fake.api_url)
        await harness.start()
        await harness.wait_healthy()
        pushers: list[asyncio.Future[None]] = []
        try:
            for index, (route, method, after_effect) in enumerate(HOLDS):
                hold = fake.hold(method, after_effect=after_effect)
                # the service keeps reporting: a kill -9 loses the sample history's hour
                # in progress, and the chart after the restart draws what came since
                pushers.append(asyncio.ensure_future(push_forever(harness, route)))
                await kill_while_slack_holds(harness, hold, fake)
                posts = fake.posts(CHANNEL)
                assert len(posts) == index + 1, harness.tail()
                await harness.start()  # the chart row is taken over once its lease ends
                await harness.wait_healthy()
                ts = posts[index]["ts"]
                await eventually(lambda ts=ts: fake.files_in_thread(ts), within=60)
            assert await harness.terminate() == 0
        finally:
            for pusher in pushers:
                pusher.cancel()
            if harness.process is not None and harness.process.returncode is None:
                await harness.kill()
    for post in fake.posts(CHANNEL):
        (chart,) = fake.files_in_thread(post["ts"])
        assert chart["content"][:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fake.posts(CHANNEL)) == len(HOLDS)
    assert len(fake.called("files.completeUploadExternal")) == len(HOLDS)  # none twice
