"""Backtests and coaching in words: shared by chat replies and the weekly report."""

from __future__ import annotations

from monitors.backtest.compare import DAY
from monitors.backtest.history import STEP
from monitors.durations import format_duration
from monitors.insight.coach import NOISY_MIN, NOISY_SHARE, Coaching
from monitors.wording import counted


def signed(seconds: float) -> str:
    """``+0``, ``+3m``, ``-1m30s``: how much later (or earlier) something opens."""
    if seconds == 0:
        return "+0"
    return ("+" if seconds > 0 else "-") + format_duration(abs(seconds))


def days_text(days: float) -> str:
    return "the last day" if days == 1 else f"the last {days:g} days"


def span_text(start: float, end: float, days: float) -> str:
    """``the last 7 days``, or when the history is shorter than asked, how long it is."""
    if end - start >= days * DAY - 2 * STEP:
        return days_text(days)
    had = format_duration(max(STEP, round((end - start) / STEP) * STEP))
    return f"the {had} of history there is (Tocsin keeps the pushed samples of 7 days)"


def no_history(metric: str | None) -> str:
    return (
        f"there is no history to replay yet: Tocsin has no pushed samples of {metric} "
        "from the last 7 days"
    )


def coaching_text(c: Coaching) -> str:
    """``/rule coach`` and the weekly report: the rule's noise, and the best change."""
    stats, name = c.stats, c.rule.name
    span = days_text(c.days)
    if not stats.opened:
        return f"{name} opened no incidents over {span}: nothing to coach."
    opened = f"{name} opened {counted(stats.opened, 'time')} over {span}"
    alone = f"{stats.self_resolved} resolved by themselves"
    if c.self_resolved_within is not None and stats.self_resolved:
        alone += f" within {format_duration(_whole_minutes(c.self_resolved_within))}"
    alone += " unacknowledged"
    if not c.noisy:
        return (
            f"{opened}, {alone}: not noisy (coaching looks at rules with {NOISY_MIN} or "
            f"more incidents, {NOISY_SHARE:.0%} or more of them resolving unacknowledged)."
        )
    head = f"{opened}, {alone}"
    if c.rule.source != "ingest":
        return f"{head}. No change can be checked: only pushed samples are kept to replay."
    if not c.samples:
        return f"{head}. No change can be checked: {no_history(c.rule.metric)}."
    unchecked = (
        f" ({c.unchecked} acknowledged {'one is' if c.unchecked == 1 else 'ones are'} "
        "not in the replayed history and could not be checked)"
        if c.unchecked
        else ""
    )
    best = c.best
    if best is None:
        return (
            f"{head}. None of the changes tried ({', '.join(t.candidate.label for t in c.trials)})"
            f" would have opened fewer without missing an acknowledged incident{unchecked}."
        )
    acked = f"the {c.acknowledged} that {'was' if c.acknowledged == 1 else 'were'} acknowledged"
    if not c.acknowledged:
        acked = "any acknowledged one: there were none"
    text = (
        f"{head}: {best.candidate.label} would have opened {best.opened} (missing none of {acked}"
    )
    if best.delay:
        text += f", opening {signed(best.delay)} later"
    return f"{text}){unchecked}; today's rule replayed opens {c.replayed}."


def _whole_minutes(seconds: float) -> float:
    return max(60.0, -(-seconds // 60) * 60)
