"""Delivery: a storm, the time from a tick to the chat API, and time to alert.

    .venv/bin/python benchmarks/delivery.py [--incidents 1000] [--single 40] [--trials 12]

Each part runs the real ``run.py`` with Slack configured against the fake Slack of the
tests (both in processes of their own) and reads what the fake received.

1. Storm: ``--incidents`` incidents open on one tick across 10 destinations (10 rules,
   one destination each, one series per route), twice: as warnings, which storm
   grouping gathers into shared messages, and as critical incidents of uncapped rules
   (``max_per_hour: 0``), one message each. Prints the messages each destination
   shows, the time from the first opening to the last post or edit, and any incident
   lost (in no message) or doubled (in two).
2. Tick to chat: ``--single`` incidents opening one at a time; for each, the time from
   the tick that saw its Nth breach (``opened_at``) to the fake receiving the message.
   Target: p99 under 1 s.
3. Time to alert: a gauge pushed every second jumps from 100 to 2000; a rule with
   ``interval: 15s`` and ``breaches_to_open: 2``; the time from the jump to the fake
   receiving the message (critical, so each is a page of its own, never a line joining
   another's message), over ``--trials`` series jumping at different moments, with
   evaluation on push (the default) and without it (``evaluate_on_push: false``, how
   Tocsin did it before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from running import fake_slack, percentile, tocsin

DESTINATIONS = 10
STORM_CONFIG = """
timer_interval: 1
slack: {{channel: C0ALERTS}}
destinations:
{destinations}
rules:
{rules}
"""
STORM_RULE = """  - name: storm-{n}
    metric: storm.{n}
    aggregate: max
    window: 3s
    interval: 1s
    group_by: [route]
    thresholds: {{{level}: 500}}
    repeat_interval: 0
    max_per_hour: {cap}
    channels: [team-{n}]
"""
ALERT_CONFIG = """
timer_interval: 1
evaluate_on_push: {on_push}
slack: {{channel: C0ALERTS}}
rules:
  - name: queue
    metric: queue.depth
    aggregate: max
    window: 15s
    interval: 15s
    group_by: [queue]
    thresholds: {{critical: 1000}}
    breaches_to_open: 2
    repeat_interval: 0
    max_per_hour: 0
"""


async def calls(http: aiohttp.ClientSession, fake: str, method: str) -> list[dict]:
    async with http.get(f"{fake}/_calls", params={"method": method}) as response:
        return await response.json()


def posted_incidents(found: list[dict]) -> dict[int, list[dict]]:
    """Top-level messages by incident (thread lines carry no metadata)."""
    by_incident: dict[int, list[dict]] = {}
    for call in found:
        metadata = call["args"].get("metadata") or {}
        if "thread_ts" not in call["args"] and metadata:
            by_incident.setdefault(metadata["event_payload"]["incident"], []).append(call)
    return by_incident


def opened_at(folder: Path) -> dict[int, float]:
    with sqlite3.connect(folder / "tocsin.db") as db:
        return dict(db.execute("SELECT id, opened_at FROM incidents"))


async def final_posts(http: aiohttp.ClientSession, fake: str) -> list[dict]:
    """Top-level messages as they stand after every edit."""
    async with http.get(f"{fake}/_posts") as response:
        return await response.json()


def shown(post: dict) -> set[int]:
    """The incidents a message shows: each has its own Acknowledge (a button or a menu
    option), whose value names it."""
    return {int(n) for n in re.findall(r'"tocsin:ack:(\d+)"', json.dumps(post))}


async def push(http: aiohttp.ClientSession, base: str, samples: list[dict]) -> None:
    async with http.post(f"{base}/v1/samples", json={"samples": samples}) as response:
        assert response.status == 202, await response.text()


async def storm(incidents: int, grouped: bool) -> None:
    per = incidents // DESTINATIONS
    level, cap = ("warning", 10) if grouped else ("critical", 0)
    destinations = "\n".join(f"  team-{n}: {{slack: C0TEAM{n}}}" for n in range(DESTINATIONS))
    rules = "".join(STORM_RULE.format(n=n, level=level, cap=cap) for n in range(DESTINATIONS))
    config = STORM_CONFIG.format(destinations=destinations, rules=rules)
    with tempfile.TemporaryDirectory(prefix="tocsin-storm-") as folder:
        async with fake_slack() as fake, tocsin(Path(folder), config, fake.url) as service:
            async with aiohttp.ClientSession() as http:
                samples = [
                    {"metric": f"storm.{n}", "value": 900, "labels": {"route": f"/r{i}"}}
                    for n in range(DESTINATIONS)
                    for i in range(per)
                ]
                deadline = time.time() + 120
                posts: list[dict] = []
                while time.time() < deadline:
                    await push(http, service.url, samples)
                    posts = await final_posts(http, fake.url)
                    if len(set().union(*map(shown, posts))) >= per * DESTINATIONS:
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2)  # anything doubled would arrive by now
                posts = await final_posts(http, fake.url)
                sent = await calls(http, fake.url, "chat.postMessage")
                sent += await calls(http, fake.url, "chat.update")
            opened = opened_at(Path(folder))
    first_open = min(opened.values())
    last = max(call["received_at"] for call in sent)
    per_channel = Counter(post["channel"] for post in posts)
    appearances = Counter(n for post in posts for n in shown(post))
    how = "warnings, grouped" if grouped else "critical and uncapped, a message each"
    print(f"Storm ({how}): {len(opened)} incidents opened at once, {DESTINATIONS} destinations")
    print(f"  messages per destination: {sorted(per_channel.values())}")
    print(f"  API calls (posts and edits): {len(sent)}")
    print(f"  from the first opening to the last post or edit: {last - first_open:.2f} s")
    lost = len(set(opened) - set(appearances))
    doubled = sum(1 for count in appearances.values() if count > 1)
    print(f"  lost {lost}, doubled {doubled}")


async def tick_to_chat(count: int) -> None:
    config = STORM_CONFIG.format(
        destinations="  team-0: {slack: C0TEAM0}",
        rules=STORM_RULE.format(n=0, level="critical", cap=0),
    )
    with tempfile.TemporaryDirectory(prefix="tocsin-t2c-") as folder:
        async with fake_slack() as fake, tocsin(Path(folder), config, fake.url) as service:
            async with aiohttp.ClientSession() as http:
                for i in range(count):
                    sample = {"metric": "storm.0", "value": 900, "labels": {"route": f"/s{i}"}}
                    while True:
                        await push(http, service.url, [sample])
                        found = posted_incidents(await calls(http, fake.url, "chat.postMessage"))
                        if len(found) > i:
                            break
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(random.uniform(0, 1))  # another phase of the tick
                found = posted_incidents(await calls(http, fake.url, "chat.postMessage"))
            opened = opened_at(Path(folder))
    delays = [(calls_[0]["received_at"] - opened[i]) * 1000 for i, calls_ in found.items()]
    print(f"Tick to chat: {len(delays)} incidents opening one at a time")
    print(
        f"  p50 {statistics.median(delays):.0f} ms, p99 {percentile(delays, 0.99):.0f} ms, "
        f"max {max(delays):.0f} ms"
    )


async def time_to_alert(trials: int, on_push: bool) -> list[float]:
    """Seconds from each series' jump to its message in Slack."""
    config = ALERT_CONFIG.format(on_push="true" if on_push else "false")
    jumps = {f"q{i}": time.time() + 5 + random.uniform(0, 15) + i * 3 for i in range(trials)}
    jumped: dict[str, float] = {}
    delays: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-tta-") as folder:
        async with (
            fake_slack() as fake,
            tocsin(Path(folder), config, fake.url) as service,
            aiohttp.ClientSession() as http,
        ):
            deadline = time.time() + 120 + trials * 5
            while len(delays) < trials:
                now = time.time()
                if now > deadline:
                    raise RuntimeError(f"only {len(delays)} of {trials} regressions reached Slack")
                for queue, at in jumps.items():
                    if now >= at:
                        jumped.setdefault(queue, now)
                samples = [
                    {
                        "metric": "queue.depth",
                        "value": 2000 if q in jumped else 100,
                        "labels": {"queue": q},
                    }
                    for q in jumps
                ]
                await push(http, service.url, samples)
                found = posted_incidents(await calls(http, fake.url, "chat.postMessage"))
                queues = incident_queues(Path(folder))
                for incident, posted in found.items():
                    queue = queues.get(incident)
                    if queue and queue not in delays:
                        delays[queue] = posted[0]["received_at"] - jumped[queue]
                await asyncio.sleep(max(0.0, 1.0 - (time.time() - now)))
    return sorted(delays.values())


def incident_queues(folder: Path) -> dict[int, str]:
    with sqlite3.connect(folder / "tocsin.db") as db:
        return dict(db.execute("SELECT id, json_extract(labels, '$.queue') FROM incidents"))


async def main(incidents: int, single: int, trials: int) -> None:
    await storm(incidents, grouped=True)
    await storm(incidents, grouped=False)
    await tick_to_chat(single)
    for on_push in (True, False):
        delays = await time_to_alert(trials, on_push)
        how = "evaluated on push" if on_push else "on the tick only (before)"
        print(f"Time to alert, {how}: {len(delays)} jumps, interval 15s, breaches_to_open 2")
        print(
            f"  median {statistics.median(delays):.1f} s, min {min(delays):.1f} s, "
            f"max {max(delays):.1f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--single", type=int, default=40)
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    asyncio.run(main(args.incidents, args.single, args.trials))
