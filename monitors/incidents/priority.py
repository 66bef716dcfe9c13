"""An incident's priority, P1 (most urgent) to P4, from its severity and how far past its
threshold the value is. One table, readable at a glance:

| severity | past the threshold by less than 2x | 2x or more |
|---|---|---|
| critical | P2 | P1 |
| error    | P3 | P2 |
| warning  | P4 | P3 |

"2x" is the value at twice its threshold or more (for ``op: "<"``, at half or less):
a p95 of 4,200 ms against a critical 2,000 ms is P1. Incidents without a value and a
threshold to compare (a source down, a pushed event, Tocsin itself) take their
severity's row, left column. The priority is stored with the incident and follows each
change of level, so lists sort by it."""

from __future__ import annotations

from storage.vocabulary import Priority

BASE: dict[str, Priority] = {
    "critical": Priority.P2,
    "error": Priority.P3,
    "warning": Priority.P4,
}
"""The priority of each severity when the value is less than twice past its threshold."""
FAR_PAST = 2.0
"""How many times its threshold a value must be to raise the priority one step."""
RAISED: dict[Priority, Priority] = {
    Priority.P2: Priority.P1,
    Priority.P3: Priority.P2,
    Priority.P4: Priority.P3,
}


def times_past(value: float | None, threshold: float | None, op: str) -> float | None:
    """How many times its threshold the value is, in the direction that breaches: 2.0
    for 4,000 against ``> 2,000``, for 500 against ``< 1,000`` and for -100 (%) against
    ``< -50``; either side for an anomaly rule's ``<>``. None when there is nothing to
    compare (no value, a threshold of 0, a value on the other side of zero)."""
    if value is None or threshold is None or threshold == 0:
        return None
    ratio = value / threshold
    if ratio <= 0:
        return None
    if op == "<>":
        return max(ratio, 1 / ratio)
    falling = op in ("<", "<=")
    return 1 / ratio if falling != (threshold < 0) else ratio


def priority_of(
    severity: str, value: float | None = None, threshold: float | None = None, op: str = ">"
) -> Priority:
    """The priority of an incident at ``severity`` whose value is ``value`` against
    ``threshold`` (compared with ``op``)."""
    base = BASE.get(severity, Priority.P4)
    past = times_past(value, threshold, op)
    if past is not None and past >= FAR_PAST:
        return RAISED.get(base, base)
    return base
