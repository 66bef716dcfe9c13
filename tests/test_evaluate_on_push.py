"""Pushed samples are evaluated as they arrive, so an incident opens one interval after
a regression starts (not up to two); counted readings stay an interval apart, so flap
protection keeps its meaning; and only the rules the samples touch are evaluated."""

from __future__ import annotations

from dataclasses import replace

from monitors.core import Core
from monitors.incidents.machine import (
    Effect,
    Kind,
    Policy,
    Reading,
    SeriesState,
    spacing_for,
    step,
)
from monitors.rules.schema import Rule
from monitors.windows.store import Sample

BREACH = Reading(Kind.BREACH, 900.0, "warning", 500.0)
NORMAL = Reading(Kind.NORMAL, 100.0)
POLICY = Policy(breaches_to_open=2, normals_to_resolve=3, spacing=spacing_for(15))


def test_the_spacing_is_the_interval_less_the_schedulers_lateness():
    assert spacing_for(15) == 14 and spacing_for(60) == 59
    assert spacing_for(1) == 0.5 and spacing_for(2) == 1


def test_the_first_breach_counts_at_once_and_the_next_only_an_interval_later():
    state = SeriesState()
    first = step(state, BREACH, POLICY, now=100)
    assert first.state.breaches == 1 and first.state.counted_at == 100
    too_soon = step(first.state, BREACH, POLICY, now=105)
    assert too_soon.state == first.state and too_soon.effects == ()
    opened = step(too_soon.state, BREACH, POLICY, now=114)
    assert opened.effects == (Effect.OPEN,)


def test_resolving_normals_are_spaced_too_and_a_breach_restarts_the_run():
    firing = SeriesState(breaches=2, level="warning", incident_id=7)
    one = step(firing, NORMAL, POLICY, now=200).state
    assert one.normals == 1
    assert step(one, NORMAL, POLICY, now=201).state == one  # a second later: not counted
    two = step(one, NORMAL, POLICY, now=214).state
    assert two.normals == 2
    again = step(two, BREACH, POLICY, now=215).state
    assert again.normals == 0 and again.counted_at is None
    assert step(again, NORMAL, POLICY, now=216).state.normals == 1  # a new run: at once


def test_a_steady_series_keeps_an_identical_state():
    calm = SeriesState()
    assert step(calm, NORMAL, POLICY, now=1).state is calm
    firing = SeriesState(breaches=2, level="warning", incident_id=7)
    assert step(firing, BREACH, POLICY, now=2).state == firing
    assert replace(firing) == step(firing, BREACH, POLICY, now=3).state


GAUGE = {
    "metric": "queue.depth",
    "aggregate": "max",
    "window": "15s",
    "interval": "15s",
    "thresholds": {"warning": 1000},
}


async def push_every_second(core: Core, scheduler, clock, values) -> list[int]:
    """Push one sample a second (as a service does), evaluating on arrival; returns the
    ids of incidents open after each second."""
    open_after = []
    for value in values:
        now = clock.advance(1)
        core.ingest([Sample("queue.depth", value, {}, now)], now)
        await scheduler.settle()
        open_after.append(len(await core.incidents.list()))
    return open_after


async def test_a_jump_opens_an_incident_one_interval_later(sqlite_url, clock):
    rules = [Rule.model_validate({**GAUGE, "name": "queue"})]
    core = await Core.open(sqlite_url, rules, clock=clock)
    scheduler = core.scheduler()
    try:
        start = clock.now
        open_after = await push_every_second(core, scheduler, clock, [100] * 5 + [2000] * 20)
        jump_at = start + 6  # the 6th push is the first at 2000
        (incident,) = await core.incidents.list()
        assert incident.opened_at - jump_at == 14  # the interval (15 s), less a second
        assert open_after.index(1) == 5 + 14
    finally:
        await core.close()


async def test_only_the_rules_the_samples_touch_are_evaluated(sqlite_url, clock):
    rules = [
        Rule.model_validate({**GAUGE, "name": "queue"}),
        Rule.model_validate({**GAUGE, "name": "other", "metric": "other.metric"}),
    ]
    core = await Core.open(sqlite_url, rules, clock=clock)
    scheduler = core.scheduler()
    evaluated: list[int] = []
    core.engine.on_tick = lambda _elapsed, rules: evaluated.append(rules)
    try:
        await push_every_second(core, scheduler, clock, [100] * 4)
        assert evaluated == [1, 1, 1, 1]  # 'queue' once a push; 'other' not at all
    finally:
        await core.close()


async def test_evaluation_on_push_can_be_turned_off(sqlite_url, clock):
    core = await Core.open(sqlite_url, [Rule.model_validate({**GAUGE, "name": "q"})], clock=clock)
    scheduler = core.scheduler(evaluate_on_push=False)
    try:
        core.ingest([Sample("queue.depth", 100, {}, clock.now)], clock.now)
        await scheduler.settle()
        assert core.engine.stats.ticks == 0
    finally:
        await core.close()
