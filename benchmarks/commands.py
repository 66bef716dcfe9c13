"""Slash-command and button handling time at 200 concurrent requests (target: p99 under
50 ms, far inside the platforms' 3 s deadline; no errors).

    .venv/bin/python benchmarks/commands.py [--concurrent 200] [--rounds 5]

Three processes, as in production: the real ``run.py`` with Slack configured against the
fake Slack Web API of the tests (tests/fake_slack.py, in a process of its own), and this
one sending requests signed as Slack signs them. It opens 100 incidents through the
ingest endpoint, then sends rounds of ``--concurrent`` requests at once: half slash
commands (``/alerts list``, ``/alerts show N``, ``/rule list``, ``/rule show``), half
button clicks (Acknowledge, then Snooze). A request's time is from sending it to
Tocsin's answer (the acknowledgement Slack waits for, which carries a command's reply).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from fake_slack import ADMIN, FakeSlack, SlackClient, sign
from running import fake_slack, percentile, tocsin

ROUTES = 100
CONFIG = """
timer_interval: 1
slack:
  channel: C0ALERTS
  admins: [{admin}]
rules:
  - name: bench-latency
    metric: latency
    aggregate: max
    window: 5s
    interval: 1s
    group_by: [route]
    thresholds: {{critical: 500}}   # critical: each its own message (no storm grouping)
    max_per_hour: 0                 # and no hourly cap: 100 messages to click on
    repeat_interval: 0
"""


async def open_incidents(http: aiohttp.ClientSession, base: str, fake_url: str) -> list[dict]:
    """100 incidents, each posted to the fake Slack; returns their messages."""
    samples = [
        {"metric": "latency", "value": 900, "labels": {"route": f"/r{i}"}} for i in range(ROUTES)
    ]
    for _ in range(120):
        await http.post(f"{base}/v1/samples", json={"samples": samples})
        async with http.get(f"{fake_url}/_posts", params={"channel": "C0ALERTS"}) as response:
            posts = await response.json()
        if len(posts) >= ROUTES:
            return posts
        await asyncio.sleep(0.5)
    raise RuntimeError("the incidents were not posted")


async def timed(http: aiohttp.ClientSession, url: str, body: str) -> tuple[float, bool]:
    headers = {**sign(body), "Content-Type": "application/x-www-form-urlencoded"}
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as response:
        await response.read()
        return time.perf_counter() - started, response.status == 200


def bodies(
    slack: SlackClient, posts: list[dict], concurrent: int, round_no: int, clicks: bool
) -> list[str]:
    commands = [
        ("/alerts", "list"),
        ("/alerts", "show {id}"),
        ("/rule", "list"),
        ("/rule", "show bench-latency"),
    ]
    out = []
    for i in range(concurrent):
        post = posts[(i + round_no * 7) % len(posts)]
        incident = post["metadata"]["event_payload"]["incident"]
        if i % 2 == 0 or not clicks:
            command, text = commands[(i // 2) % len(commands)]
            out.append(slack.command_body(command, text.format(id=incident)))
        else:
            action = f"tocsin:ack:{incident}" if round_no == 0 else f"tocsin:snooze:{incident}:1h"
            out.append(slack.interaction_body(slack.click_payload(post, action)))
    return out


async def main(concurrent: int, rounds: int) -> None:
    results: list[tuple[float, bool]] = []
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as folder:
        async with (
            fake_slack() as fake,
            tocsin(Path(folder), CONFIG.format(admin=ADMIN.id), fake.url) as service,
        ):
            connector = aiohttp.TCPConnector(limit=concurrent)
            async with aiohttp.ClientSession(connector=connector) as http:
                posts = await open_incidents(http, service.url, fake.url)
                url = f"{service.url}/slack/events"
                slack = SlackClient(url, FakeSlack(url=fake.url), None)  # type: ignore[arg-type]
                warm_up = bodies(slack, posts, 20, 0, clicks=False)
                await asyncio.gather(*(timed(http, url, body) for body in warm_up))
                for round_no in range(rounds):
                    batch = bodies(slack, posts, concurrent, round_no, clicks=True)
                    results += await asyncio.gather(*(timed(http, url, b) for b in batch))
                    await asyncio.sleep(1)  # let the round's follow-ups settle
    times = [t * 1000 for t, _ in results]
    errors = sum(1 for _, ok in results if not ok)
    print(f"Slack: {len(results)} requests, {concurrent} at once, {rounds} rounds")
    print(
        f"  p50 {statistics.median(times):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
        f"max {max(times):.1f} ms, errors {errors}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.concurrent, args.rounds))
