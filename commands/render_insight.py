"""Words for backtests, coaching and statistics, as replies show them."""

from __future__ import annotations

from monitors.backtest.compare import BacktestReport
from monitors.durations import format_duration
from monitors.formatting import short_time
from monitors.insight.coach import Coaching
from monitors.insight.proposals import EXPIRES_AFTER
from monitors.insight.stats import IncidentStats, RuleStats, Spread
from monitors.insight.words import days_text, no_history, signed, span_text
from monitors.wording import counted

Row = tuple[str, ...]


def preview_text(change: str, report: BacktestReport, days: float, metric: str | None) -> str:
    """``/rule set`` before saving: what the change would have done, next to today's rule.
    ``change`` says what changes (``slow-api, warning 800 -> 1,000``)."""
    offer = (
        f"Apply saves it; Cancel leaves the rule as it is (the offer lasts "
        f"{format_duration(EXPIRES_AFTER)})."
    )
    if report.history_from is None or not report.samples:
        return f"{change}: {no_history(metric)}, so what it would do cannot be shown. {offer}"
    span = span_text(report.start, report.end, days)
    opened = len(report.proposed)
    text = (
        f"{change}: over {span} this would have opened {counted(opened, 'incident')} "
        f"(today's rule: {len(report.current)})"
    )
    if report.median_difference is not None:
        text += f", time to open {signed(report.median_difference)}"
    notes = []
    if report.missed:
        notes.append(f"it would not have opened during {len(report.missed)} of today's")
    if report.added:
        notes.append(f"it would have opened {len(report.added)} that today's rule does not")
    if notes:
        text += f"; {' and '.join(notes)}"
    return f"{text}. {offer}"


def backtest_text(
    name: str, report: BacktestReport, days: float, metric: str | None, actual: int
) -> str:
    """``/rule backtest``: what the rule as it is would have opened, and what it did."""
    if report.history_from is None or not report.samples:
        return f"{name}: {no_history(metric)}."
    incidents = report.current
    span = span_text(report.start, report.end, days)
    series = len({tuple(sorted(i.labels.items())) for i in incidents})
    text = f"Over {span} {name} would have opened {counted(len(incidents), 'incident')}"
    if incidents:
        text += f" on {counted(series, 'series', 'series')}"
        reopened = sum(1 for i in incidents if i.reopened)
        if reopened:
            text += f", {reopened} of them reopening within the cooldown"
        lasted = [(i.resolved_at or report.end) - i.opened_at for i in incidents]
        text += f"; they lasted {format_duration(sorted(lasted)[len(lasted) // 2])} (median)"
    return (
        f"{text}. It opened {actual} in that time (a replay differs where the rule changed "
        f"or samples came late); replayed at {format_duration(report.step)} steps over "
        f"{report.samples:,} samples."
    )


def backtest_table(report: BacktestReport, now: float, limit: int = 25) -> tuple[Row, ...]:
    if not report.current:
        return ()
    header: Row = ("Series", "Severity", "Opened", "Resolved", "Reopened")
    rows = [
        (
            ",".join(f"{k}={v}" for k, v in sorted(i.labels.items())) or "-",
            i.severity,
            short_time(i.opened_at),
            short_time(i.resolved_at) if i.resolved_at is not None else "still open",
            str(i.reopened),
        )
        for i in report.current[:limit]
    ]
    return (header, *rows)


def trials_table(c: Coaching) -> tuple[Row, ...]:
    if not c.trials:
        return ()
    header: Row = ("Change", "Would open", "Missed acknowledged", "Time to open")
    rows = [
        (
            t.candidate.label,
            str(t.opened),
            str(t.missed),
            signed(t.delay) if t.delay is not None else "-",
        )
        for t in c.trials
    ]
    return (header, *rows)


def _spread(spread: Spread) -> str:
    if spread.median is None or spread.p90 is None:
        return "-"
    return f"{format_duration(spread.median)} / {format_duration(spread.p90)}"


def stats_text(stats: IncidentStats) -> str:
    total = stats.total
    span = days_text(round(stats.days, 4))
    if not total.opened and not total.reopens:
        text = f"No incidents over {span}."
    else:
        text = (
            f"Over {span}: {counted(total.opened, 'incident')}, "
            f"{counted(total.reopens, 'reopen')}. Time to acknowledge {_median_p90(total.mtta)}; "
            f"to resolve {_median_p90(total.mttr)}. {total.self_resolved_share:.0%} resolved "
            "by themselves with nobody acknowledging."
        )
        peaks = ", ".join(f"{h:02d}:00 ({n})" for h, n in stats.peak_hours)
        if peaks:
            text += f" Peak hours (UTC): {peaks}."
        noisy = ", ".join(f"{r.rule} ({r.noise})" for r in stats.noisiest)
        if noisy:
            text += f" Noisiest: {noisy}."
    if stats.quiet:
        quiet = ", ".join(
            f"{rule} ({'never' if last is None else 'last ' + short_time(last)})"
            for rule, last in stats.quiet
        )
        text += f" Never fired in this time: {quiet}."
    return text


def _median_p90(spread: Spread) -> str:
    if spread.median is None or spread.p90 is None:
        return ": none yet"
    return (
        f"median {format_duration(spread.median)}, p90 {format_duration(spread.p90)} "
        f"(over {spread.count})"
    )


def stats_table(stats: IncidentStats) -> tuple[Row, ...]:
    if not stats.rules:
        return ()
    header: Row = (
        "Rule",
        "Opened",
        "Reopens",
        "Acked",
        "By themselves",
        "MTTA p50/p90",
        "MTTR p50/p90",
    )
    return (header, *(_stats_row(r) for r in stats.rules))


def _stats_row(r: RuleStats) -> Row:
    return (
        r.rule,
        str(r.opened),
        str(r.reopens),
        str(r.acknowledged),
        f"{r.self_resolved} ({r.self_resolved_share:.0%})",
        _spread(r.mtta),
        _spread(r.mttr),
    )
