"""Charts on incident messages: what drawing one costs, and what it does to delivery.

    .venv/bin/python benchmarks/charts.py [--rounds N]

* drawing: ``Charts.png`` over a sample history of 3 hours at one sample a second on 20
  routes (the chart reads one), cold (the first chart imports matplotlib) and warm
  (median, p95), and the PNG's size;
* the service (in this process, on SQLite, against the fake Slack of tests/fake_slack.py
  in this process too): incidents opened one at a time on a rule reading pushed
  samples, with charts on and off: from the tick that opens an incident to Slack
  receiving its message (chat.postMessage), and with charts on, from that message to
  the chart being shared in its thread (files.completeUploadExternal).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from slack_harness import SlackWorld, eventually, slack_world

from monitors.backtest.history import SampleHistory
from monitors.charts import Charts
from monitors.rules.schema import Rule
from storage.models import IncidentRow

CHANNEL = "C0ALERTS"
RULE = Rule.model_validate(
    {
        "name": "slow-api",
        "metric": "latency",
        "aggregate": "p95",
        "window": "1m",
        "interval": "1m",  # ticked by hand
        "group_by": ["route"],
        "thresholds": {"warning": 500, "critical": 2000},
        "max_per_hour": 0,  # every incident its own message: no cap
    }
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drawing(rounds: int) -> None:
    rng = random.Random(7)
    now = time.time()
    history = SampleHistory(None)
    for second in range(3 * 3600):
        at = now - 3 * 3600 + second
        for route in range(20):
            late = at > now - 1200 and route == 0
            history.add(
                "latency", rng.gauss(2400 if late else 300, 40), {"route": f"/r{route}"}, at, now
            )
    incident = IncidentRow(
        id=1,
        rule=RULE.name,
        labels={"route": "/r0"},
        kind="metric",
        test=False,
        rule_snapshot=RULE.to_json(),
        threshold=2000.0,
        opened_at=now - 1100,
        firing_since=None,
        resolved_at=None,
    )
    charts = Charts(history)
    request = charts.request(incident)
    assert request is not None
    started = time.perf_counter()
    png = await charts.png(request, now)
    cold = time.perf_counter() - started
    assert png is not None
    times, sizes = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        png = await charts.png(request, now)
        times.append(time.perf_counter() - started)
        assert png is not None
        sizes.append(len(png))
    charts.close()
    print("| drawing a chart (3 h, a point a minute) | result |")
    print("|---|---|")
    print(f"| first chart, matplotlib imported | {cold * 1000:.0f} ms |")
    print(
        f"| then, median / p95 of {rounds} | {statistics.median(times) * 1000:.0f} ms"
        f" / {percentile(times, 0.95) * 1000:.0f} ms |"
    )
    print(f"| PNG size, median | {statistics.median(sizes) / 1024:.1f} KiB |")


def post_of(world: SlackWorld, incident_id: int) -> dict | None:
    for post in world.fake.posts(CHANNEL):
        if (post.get("metadata") or {}).get("event_payload", {}).get("incident") == incident_id:
            return post
    return None


def chart_call(world: SlackWorld, ts: str) -> float | None:
    for call in world.fake.calls:
        if call.method == "files.completeUploadExternal" and call.args.get("thread_ts") == ts:
            return call.received_at
    return None


async def service(charts: bool, rounds: int, wait: bool) -> tuple[list[float], list[float]]:
    """Seconds from the opening tick to the post, and from the post to the chart;
    ``wait``: each incident after the last one's chart arrived, else back to back."""
    to_post, to_chart = [], []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/charts.db"
        async with slack_world(url, rules=[RULE], charts=charts) as world:
            routes = [f"/r{i}" for i in range(rounds)]
            for _ in range(60):  # two hours of normal readings, a sample per route
                await world.push_all(routes, 300)
                world.clock.advance(120)
            await asyncio.sleep(5)  # the chart worker started and imported matplotlib
            posts = []
            for route in routes:
                await world.push(route, 900)
                await world.tick()
                world.clock.advance(60)
                await world.push(route, 900)
                ticked = time.time()
                await world.tick()
                world.clock.advance(60)
                incident = max(i.id for i in await world.incidents())
                post = await eventually(lambda incident=incident: post_of(world, incident))
                to_post.append(post["received_at"] - ticked)
                posts.append(post)
                if charts and wait:
                    await eventually(lambda post=post: chart_call(world, post["ts"]), 120)
            if charts:
                for post in posts:
                    shared = await eventually(lambda post=post: chart_call(world, post["ts"]), 120)
                    to_chart.append(shared - post["received_at"])
    return to_post, to_chart


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    await drawing(args.rounds)
    print()

    def ms(values: list[float]) -> str:
        return f"{percentile(values, 0.5) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f} ms"

    print(f"| {args.rounds} incidents | charts off | charts on |")
    print("|---|---|---|")
    for wait, how in ((True, "one at a time"), (False, "back to back")):
        off, _ = await service(False, args.rounds, wait)
        on, charted = await service(True, args.rounds, wait)
        print(f"| {how}: tick to message, p50 / p95 | {ms(off)} | {ms(on)} |")
        print(f"| {how}: message to chart in its thread, p50 / p95 | - | {ms(charted)} |")


if __name__ == "__main__":
    asyncio.run(main())
