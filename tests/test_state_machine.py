"""The incident state machine, transition by transition (DESIGN.md "Incident semantics")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitors.incidents.machine import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    TRANSITIONS,
    Effect,
    IllegalTransition,
    Kind,
    Policy,
    Reading,
    SeriesState,
    after_manual_resolve,
    step,
    track_source,
    transition,
)

BREACH = Reading(Kind.BREACH, 900.0, level="warning", threshold=500.0)
CRITICAL = Reading(Kind.BREACH, 3000.0, level="critical", threshold=2000.0)
NORMAL = Reading(Kind.NORMAL, 100.0, threshold=500.0)
NO_DATA = Reading(Kind.NO_DATA)
ERROR = Reading(Kind.ERROR, error="connection refused")
POLICY = Policy(breaches_to_open=2, normals_to_resolve=3, cooldown=3600.0)


CALM = SeriesState()


def run(readings, state=CALM, policy=POLICY, start=0.0, every=60.0):
    """Feed readings one per interval, giving OPEN incidents ids 1, 2, ... as the engine
    does; returns the final state and the effects of each step."""
    effects, next_id, now = [], 1, start
    for reading in readings:
        result = step(state, reading, policy, now)
        state = result.state
        if Effect.OPEN in result.effects:
            state = replace(state, incident_id=next_id)
            next_id += 1
        effects.append(result.effects)
        now += every
    return state, effects


# ------------------------------------------------------------ user actions, row by row


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (OPEN, "acknowledge", ACKNOWLEDGED),
        (OPEN, "snooze", OPEN),
        (OPEN, "resolve", RESOLVED),
        (ACKNOWLEDGED, "snooze", ACKNOWLEDGED),
        (ACKNOWLEDGED, "resolve", RESOLVED),
        (RESOLVED, "reopen", OPEN),
    ],
)
def test_every_allowed_transition(status, action, expected):
    assert transition(status, action) == expected


def test_the_table_holds_exactly_the_allowed_moves():
    assert len(TRANSITIONS) == 6


@pytest.mark.parametrize(
    ("status", "action", "says"),
    [
        (ACKNOWLEDGED, "acknowledge", "is already acknowledged"),
        (RESOLVED, "acknowledge", "is resolved; there is nothing to acknowledge"),
        (RESOLVED, "snooze", "is resolved; there is nothing to snooze"),
        (RESOLVED, "resolve", "is already resolved"),
        (OPEN, "reopen", "is not resolved"),
        (ACKNOWLEDGED, "reopen", "is not resolved"),
    ],
)
def test_every_refusal_says_why(status, action, says):
    with pytest.raises(IllegalTransition, match=says):
        transition(status, action)


# ------------------------------------------------------------ opening


def test_one_breach_does_not_open():
    state, effects = run([BREACH])
    assert effects == [()]
    assert state.breaches == 1 and state.incident_id is None


def test_the_second_consecutive_breach_opens_at_its_level():
    result = step(SeriesState(breaches=1), BREACH, POLICY, 0.0)
    assert result.effects == (Effect.OPEN,)
    assert result.level == "warning"


def test_a_normal_between_breaches_starts_the_count_again():
    state, effects = run([BREACH, NORMAL, BREACH])
    assert all(not e for e in effects)
    assert state.breaches == 1


def test_breaches_to_open_is_honoured():
    policy = Policy(breaches_to_open=4)
    _, effects = run([BREACH] * 4, policy=policy)
    assert effects == [(), (), (), (Effect.OPEN,)]


# ------------------------------------------------------------ resolving


def test_auto_resolve_after_three_consecutive_normals_and_not_before():
    state, effects = run([BREACH, BREACH, NORMAL, NORMAL, NORMAL])
    assert effects[2:] == [(), (), (Effect.RESOLVE,)]
    assert state.incident_id is None and state.last_incident_id == 1


def test_a_breach_among_the_normals_keeps_the_incident_open():
    state, effects = run([BREACH, BREACH, NORMAL, NORMAL, BREACH, NORMAL, NORMAL])
    assert Effect.RESOLVE not in sum(effects, ())
    assert state.incident_id == 1


# ------------------------------------------------------------ levels


def test_a_higher_level_escalates_and_a_lower_one_de_escalates():
    state, effects = run([BREACH, BREACH, CRITICAL, BREACH])
    assert effects[2] == (Effect.ESCALATE,)
    assert effects[3] == (Effect.DEESCALATE,)
    assert state.level == "warning"


def test_the_same_level_again_changes_nothing_to_announce():
    _, effects = run([BREACH, BREACH, BREACH])
    assert effects[2] == ()


# ------------------------------------------------------------ no data and errors


@pytest.mark.parametrize("gap", [NO_DATA, ERROR])
def test_keep_policy_leaves_the_counters_alone(gap):
    _state, effects = run([BREACH, gap, gap, BREACH])
    assert effects[-1] == (Effect.OPEN,)  # the gap neither counted nor reset


@pytest.mark.parametrize("gap", [NO_DATA, ERROR])
def test_ok_policy_counts_a_gap_as_normal(gap):
    policy = Policy(no_data="ok", on_error="ok")
    _state, effects = run([BREACH, BREACH, gap, gap, gap], policy=policy)
    assert effects[-1] == (Effect.RESOLVE,)


@pytest.mark.parametrize("gap", [NO_DATA, ERROR])
def test_alerting_policy_counts_a_gap_as_a_breach_at_the_lowest_level(gap):
    policy = Policy(no_data="alerting", on_error="alerting", lowest_level="error")
    result = step(SeriesState(breaches=1), gap, policy, 0.0)
    assert result.effects == (Effect.OPEN,) and result.level == "error"


def test_source_down_once_after_n_errors_and_recovered_once():
    policy = Policy(source_errors_to_alert=3)
    state, seen = SeriesState(), []
    for failed in (True, True, True, True, False, False):
        result = track_source(state, failed, policy)
        state = result.state
        seen.append(result.effects)
    assert seen == [(), (), (Effect.SOURCE_DOWN,), (), (Effect.SOURCE_RECOVERED,), ()]


# ------------------------------------------------------------ cooldown and manual resolve


def test_breaching_within_the_cooldown_reopens_the_same_incident():
    state, _ = run([BREACH, BREACH, NORMAL, NORMAL, NORMAL])
    result = step(replace(state, breaches=1), BREACH, POLICY, state.resolved_at + 600)
    assert result.effects == (Effect.REOPEN,)
    assert result.state.incident_id == 1


def test_breaching_after_the_cooldown_opens_a_new_incident():
    state, _ = run([BREACH, BREACH, NORMAL, NORMAL, NORMAL])
    result = step(replace(state, breaches=1), BREACH, POLICY, state.resolved_at + 3600)
    assert result.effects == (Effect.OPEN,)
    assert result.state.incident_id is None  # the engine fills in the new id


def test_manual_resolve_restarts_the_count_and_remembers_the_incident():
    state, _ = run([BREACH, BREACH, BREACH])
    after = after_manual_resolve(state, 1, now=1000.0)
    assert after == SeriesState(last_incident_id=1, resolved_at=1000.0)
    assert step(after, BREACH, POLICY, 1060.0).effects == ()  # one breach is not enough
    assert after_manual_resolve(state, 99, now=1000.0) == state  # another incident: no-op


# ------------------------------------------------------------ no churn


def test_a_steady_series_yields_an_identical_state():
    calm, _ = run([NORMAL, NORMAL])
    assert step(calm, NORMAL, POLICY, 0.0).state is calm
    firing, _ = run([BREACH, BREACH, BREACH])
    assert step(firing, BREACH, POLICY, 0.0).state == firing


def test_alerting_policy_keeps_the_level_of_a_firing_incident():
    policy = Policy(no_data="alerting", on_error="alerting")
    firing, _ = run([CRITICAL, CRITICAL], policy=policy)
    for gap in (NO_DATA, ERROR):
        result = step(firing, gap, policy, 0.0)
        assert result.effects == () and result.state.level == "critical"
