"""The incident state machine: pure, with the clock passed in.

Two halves, both free of I/O:

* ``step`` advances one series by one reading (breach, normal, no-data, source error) and
  says which incident effects follow: open, reopen within the cooldown, escalate,
  de-escalate, auto-resolve. ``track_source`` does the same for a rule's source health
  (source down / recovered). Counters are capped so that a
  steady series produces an identical state and therefore no database write.
* ``TRANSITIONS`` is the table of what people may do to an incident; ``transition``
  applies it and raises ``IllegalTransition`` with a sentence a user can read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from monitors.errors import ActionError
from monitors.rules.schema import level_rank
from storage.vocabulary import IncidentStatus

# --- incident states and user actions -------------------------------------------------

OPEN = IncidentStatus.OPEN
ACKNOWLEDGED = IncidentStatus.ACKNOWLEDGED
RESOLVED = IncidentStatus.RESOLVED
STATUSES = tuple(IncidentStatus)


class Action(StrEnum):
    """What can happen to an incident: people acknowledge, snooze and resolve (by
    button, command or API); the engine also resolves and reopens."""

    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    RESOLVE = "resolve"
    REOPEN = "reopen"


TRANSITIONS: dict[tuple[IncidentStatus, Action], IncidentStatus] = {
    # (current status, action)  -> new status
    (OPEN, Action.ACKNOWLEDGE): ACKNOWLEDGED,
    (OPEN, Action.SNOOZE): OPEN,
    (OPEN, Action.RESOLVE): RESOLVED,
    (ACKNOWLEDGED, Action.SNOOZE): ACKNOWLEDGED,
    (ACKNOWLEDGED, Action.RESOLVE): RESOLVED,
    (RESOLVED, Action.REOPEN): OPEN,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a move is refused: the state (``is already acknowledged``), to which the
    caller may add who did it, and what that means for the person (``there is nothing
    to acknowledge``)."""

    state: str
    advice: str = ""


_REFUSALS: dict[tuple[IncidentStatus, Action], Refusal] = {
    (ACKNOWLEDGED, Action.ACKNOWLEDGE): Refusal("is already acknowledged"),
    (RESOLVED, Action.ACKNOWLEDGE): Refusal("is resolved", "there is nothing to acknowledge"),
    (RESOLVED, Action.SNOOZE): Refusal("is resolved", "there is nothing to snooze"),
    (RESOLVED, Action.RESOLVE): Refusal("is already resolved"),
    (OPEN, Action.REOPEN): Refusal("is not resolved"),
    (ACKNOWLEDGED, Action.REOPEN): Refusal("is not resolved"),
}


class IllegalTransition(ActionError):
    """An action the incident's current state does not allow; the message says why:
    ``#42 is already acknowledged by alice.``"""

    def __init__(self, refusal: Refusal, subject: str = "", whom: str = "") -> None:
        self.refusal, self.subject, self.whom = refusal, subject, whom
        advice = f"; {refusal.advice}" if refusal.advice else ""
        super().__init__(f"{subject}{' ' if subject else ''}{refusal.state}{whom}{advice}.")

    def about(self, subject: str, whom: str = "") -> IllegalTransition:
        """The same refusal, naming the incident (``#42``) and who put it in its state."""
        return IllegalTransition(self.refusal, subject, whom)


def transition(status: str, action: Action) -> IncidentStatus:
    """New status for ``action`` on an incident in ``status``, or IllegalTransition."""
    current, action = IncidentStatus(status), Action(action)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        refusal = _REFUSALS.get(
            (current, action), Refusal(f"cannot be {action.value}d while {current.value}")
        )
        raise IllegalTransition(refusal) from None


# --- readings and series evaluation ----------------------------------------------------


class Kind(StrEnum):
    BREACH = "breach"
    NORMAL = "normal"
    NO_DATA = "no_data"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Reading:
    """One evaluation of one series. ``level`` is set for breaches only."""

    kind: Kind
    value: float | None = None
    level: str | None = None
    threshold: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """The parts of a rule the machine needs (see monitors.rules.schema.Rule)."""

    breaches_to_open: int = 2
    normals_to_resolve: int = 3
    cooldown: float = 3600.0
    no_data: str = "keep"  # keep | ok | alerting
    on_error: str = "keep"
    source_errors_to_alert: int = 3
    lowest_level: str = "warning"
    spacing: float = 0.0
    """Seconds at least between two readings that count in one run (breaches toward
    opening, normals toward resolving). Readings come more often than the rule's
    interval when pushed samples are evaluated on arrival; the first reading of a run
    counts at once, the next only an interval (less a tolerance) later, so flap
    protection keeps its meaning. 0: every reading counts."""


def spacing_for(interval: float) -> float:
    """A rule's ``Policy.spacing``: its interval, less up to a second for the scheduler's
    own lateness (half the interval for intervals under two seconds)."""
    return interval - min(1.0, interval / 2)


@dataclass(frozen=True, slots=True)
class SeriesState:
    """Persisted per series, and per rule under ``SOURCE_SERIES`` for source health.

    ``incident_id`` is the unresolved incident, if any; ``last_incident_id`` and
    ``resolved_at`` remember the previous one for cooldown reopens."""

    breaches: int = 0
    normals: int = 0
    errors: int = 0
    level: str | None = None
    incident_id: int | None = None
    last_incident_id: int | None = None
    resolved_at: float | None = None
    source_down: bool = False
    counted_at: float | None = None
    """When the last reading of the current run counted (see ``Policy.spacing``); None
    when no run is under way, so that a steady series keeps an identical state."""


SOURCE_SERIES = "__source__"


class Effect(StrEnum):
    OPEN = "open"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    DEESCALATE = "deescalate"
    RESOLVE = "resolve"
    SOURCE_DOWN = "source_down"
    SOURCE_RECOVERED = "source_recovered"


@dataclass(frozen=True, slots=True)
class Step:
    """Outcome of one reading: the next state and the effects, in order.

    For OPEN the new incident's id is not known yet: ``state.incident_id`` is None and
    the caller fills it in once the incident row exists. For REOPEN it is the reopened id.
    """

    state: SeriesState
    effects: tuple[Effect, ...] = ()
    level: str | None = None
    previous_level: str | None = None


def _effective(reading: Reading, policy: Policy) -> Reading:
    """Apply the no-data / source-error policy: keep, or count as normal or breach."""
    if reading.kind is Kind.NO_DATA:
        policy_choice = policy.no_data
    elif reading.kind is Kind.ERROR:
        policy_choice = policy.on_error
    else:
        return reading
    if policy_choice == "ok":
        return Reading(Kind.NORMAL, reading.value)
    if policy_choice == "alerting":  # no level: the current one, or the lowest
        return Reading(Kind.BREACH, reading.value)
    return reading


def track_source(state: SeriesState, failed: bool, policy: Policy) -> Step:
    """Track a rule's consecutive source errors (kept on its ``SOURCE_SERIES`` state):
    announce "source down" once after ``source_errors_to_alert``, and recovery once."""
    if failed:
        errors = min(state.errors + 1, policy.source_errors_to_alert)
        if errors >= policy.source_errors_to_alert and not state.source_down:
            return Step(replace(state, errors=errors, source_down=True), (Effect.SOURCE_DOWN,))
        return Step(replace(state, errors=errors))
    if state.source_down:
        return Step(replace(state, errors=0, source_down=False), (Effect.SOURCE_RECOVERED,))
    return Step(replace(state, errors=0) if state.errors else state)


def step(state: SeriesState, reading: Reading, policy: Policy, now: float) -> Step:
    """Advance ``state`` by ``reading`` at time ``now``."""
    effective = _effective(reading, policy)
    if effective.kind is Kind.BREACH:
        return _on_breach(state, effective, policy, now)
    if effective.kind is Kind.NORMAL:
        return _on_normal(state, policy, now)
    return Step(state, (), state.level, state.level)  # no data / error kept: untouched


def _too_soon(state: SeriesState, policy: Policy, now: float) -> bool:
    """Whether a reading continuing the current run came too soon after the last one
    that counted (``Policy.spacing``)."""
    return (
        policy.spacing > 0
        and state.counted_at is not None
        and now - state.counted_at < policy.spacing
    )


def _on_breach(state: SeriesState, reading: Reading, policy: Policy, now: float) -> Step:
    breaches = min(state.breaches + 1, policy.breaches_to_open)
    level = reading.level or state.level or policy.lowest_level
    if state.incident_id is not None:  # firing: follow the level up or down
        new = replace(state, breaches=breaches, normals=0, level=level, counted_at=None)
        if level_rank(level) > level_rank(state.level):
            return Step(new, (Effect.ESCALATE,), level, state.level)
        if level_rank(level) < level_rank(state.level):
            return Step(new, (Effect.DEESCALATE,), level, state.level)
        return Step(new, (), level, state.level)
    if state.breaches > 0 and _too_soon(state, policy, now):
        return Step(state, (), None, None)  # not counted: the run goes on
    if breaches < policy.breaches_to_open:
        return Step(replace(state, breaches=breaches, normals=0, counted_at=now), (), None, None)
    in_cooldown = (
        state.last_incident_id is not None
        and state.resolved_at is not None
        and now - state.resolved_at < policy.cooldown
    )
    if in_cooldown:
        new = replace(
            state,
            breaches=breaches,
            normals=0,
            level=level,
            incident_id=state.last_incident_id,
            counted_at=None,
        )
        return Step(new, (Effect.REOPEN,), level, None)
    new = replace(
        state, breaches=breaches, normals=0, level=level, incident_id=None, counted_at=None
    )
    return Step(new, (Effect.OPEN,), level, None)


def _on_normal(state: SeriesState, policy: Policy, now: float) -> Step:
    if state.incident_id is None:  # nothing to resolve: the count would mean nothing
        if not state.breaches and not state.normals and state.counted_at is None:
            return Step(state, (), None, None)  # calm already (the usual case)
        return Step(replace(state, breaches=0, normals=0, counted_at=None), (), None, None)
    if state.normals > 0 and _too_soon(state, policy, now):
        return Step(state, (), state.level, state.level)  # not counted: the run goes on
    normals = min(state.normals + 1, policy.normals_to_resolve)
    if normals < policy.normals_to_resolve:
        counting = replace(state, breaches=0, normals=normals, counted_at=now)
        return Step(counting, (), state.level, state.level)
    resolved = SeriesState(normals=normals, last_incident_id=state.incident_id, resolved_at=now)
    return Step(resolved, (Effect.RESOLVE,), None, state.level)


def after_manual_resolve(state: SeriesState, incident_id: int, now: float) -> SeriesState:
    """Series state once a person resolves its incident: counting starts afresh, and a
    breach within the cooldown reopens the same incident."""
    if state.incident_id != incident_id:
        return state
    return SeriesState(last_incident_id=incident_id, resolved_at=now)
