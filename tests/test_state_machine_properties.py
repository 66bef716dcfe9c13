"""Properties of the incident state machine over random reading sequences (hypothesis).

A small reference model follows the effective readings (no-data and errors mapped
through the policy) and the incidents, and every step of the real machine is checked
against it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.incidents.machine import (
    Effect,
    Kind,
    Policy,
    Reading,
    SeriesState,
    after_manual_resolve,
    step,
)

LEVELS = ("warning", "error", "critical")

readings = st.one_of(
    st.builds(lambda lv: Reading(Kind.BREACH, 1.0, level=lv), st.sampled_from(LEVELS)),
    st.just(Reading(Kind.NORMAL, 0.0)),
    st.just(Reading(Kind.NO_DATA)),
    st.just(Reading(Kind.ERROR, error="down")),
    st.just("manual_resolve"),
)
policies = st.builds(
    Policy,
    breaches_to_open=st.integers(1, 5),
    normals_to_resolve=st.integers(1, 5),
    cooldown=st.sampled_from([0.0, 120.0, 3600.0]),
    no_data=st.sampled_from(["keep", "ok", "alerting"]),
    on_error=st.sampled_from(["keep", "ok", "alerting"]),
)


def effective(reading: Reading, policy: Policy) -> Kind | None:
    """What a reading counts as; None when the policy keeps the counters as they are."""
    choice = {Kind.NO_DATA: policy.no_data, Kind.ERROR: policy.on_error}.get(reading.kind)
    if choice is None:
        return reading.kind
    return {"ok": Kind.NORMAL, "alerting": Kind.BREACH}.get(choice)


@settings(max_examples=400, deadline=None)
@given(policy=policies, sequence=st.lists(readings, max_size=60))
def test_incidents_open_and_resolve_only_as_the_semantics_say(policy, sequence):
    state = SeriesState()
    unresolved: set[int] = set()
    next_id = 1
    streak_kind, streak = None, 0  # the current run of effective readings
    for tick, reading in enumerate(sequence):
        now = tick * 60.0
        if reading == "manual_resolve":
            if state.incident_id is not None:
                unresolved.discard(state.incident_id)
                state = after_manual_resolve(state, state.incident_id, now)
                streak_kind, streak = None, 0  # counting starts afresh
            continue
        kind = effective(reading, policy)
        if kind is not None:
            streak = streak + 1 if kind == streak_kind else 1
            streak_kind = kind
        had_incident = state.incident_id is not None
        result = step(state, reading, policy, now)
        state = result.state

        opened = {Effect.OPEN, Effect.REOPEN} & set(result.effects)
        if opened:
            assert not unresolved, "a second unresolved incident for one series"
            assert not had_incident
            assert streak_kind is Kind.BREACH and streak >= policy.breaches_to_open
            if Effect.OPEN in opened:
                state = replace(state, incident_id=next_id)
                next_id += 1
            unresolved.add(state.incident_id)
        if Effect.RESOLVE in result.effects:
            assert had_incident, "resolved with no incident open"
            assert streak_kind is Kind.NORMAL and streak >= policy.normals_to_resolve
            unresolved.discard(state.last_incident_id)
        assert len(unresolved) <= 1
        assert (state.incident_id is not None) == bool(unresolved)


@settings(max_examples=300, deadline=None)
@given(policy=policies, sequence=st.lists(readings, max_size=40))
def test_enough_breaches_in_a_row_always_end_up_firing(policy, sequence):
    """Liveness: whatever came before, breaches_to_open breaches in a row leave the
    series with an unresolved incident."""
    state, now = SeriesState(), 0.0
    for reading in sequence:
        if reading == "manual_resolve":
            if state.incident_id is not None:
                state = after_manual_resolve(state, state.incident_id, now)
            continue
        result = step(state, reading, policy, now)
        state = result.state
        if Effect.OPEN in result.effects:
            state = replace(state, incident_id=999)
        now += 60.0
    for _ in range(policy.breaches_to_open):
        result = step(state, Reading(Kind.BREACH, 1.0, level="warning"), policy, now)
        state = result.state
        if Effect.OPEN in result.effects:
            state = replace(state, incident_id=1000)
        now += 60.0
    assert state.incident_id is not None
