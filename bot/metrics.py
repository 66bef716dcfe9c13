"""Prometheus metrics about Tocsin itself, served at ``/metrics``.

Each :class:`Metrics` has its own registry, so several apps (tests) never collide.
Counters and the tick histogram are updated as things happen; the rest is read live at
scrape time by a collector. Values that need the database (incidents by status, pending
outbox rows) are read by :meth:`Metrics.refresh`, which the ``/metrics`` handler awaits
before :meth:`Metrics.render`, so the collector itself never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from monitors.core import Core
from monitors.sources.base import CountsQueries
from storage.repositories import IncidentRepository, OutboxRepository

if TYPE_CHECKING:
    from bot.delivery.dispatcher import Dispatcher

INCIDENT_STATUSES = ("open", "acknowledged", "resolved")
TICK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WINDOW_GAUGES = {
    "metrics": "Metrics held in the ingest window store.",
    "series": "Label sets held in the ingest window store.",
    "buckets": "Time buckets held in the ingest window store.",
}
DROP_REASONS = ("too_old", "series_limit", "not_finite")


class Metrics:
    """The service's own metrics; ``render()`` gives the text exposition format."""

    content_type = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(self, core: Core) -> None:
        self.core = core
        self.registry = CollectorRegistry(auto_describe=True)
        self.ticks = Counter("tocsin_ticks", "Engine ticks run.", registry=self.registry)
        self.tick_duration = Histogram(
            "tocsin_tick_duration_seconds",
            "Wall time of one engine tick.",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.rules_evaluated = Counter(
            "tocsin_rules_evaluated", "Rule evaluations done by ticks.", registry=self.registry
        )
        self.ingest_samples = Counter(
            "tocsin_ingest_samples",
            "Samples pushed to /v1/samples, by result.",
            ["result"],
            registry=self.registry,
        )
        self.ingest_requests = Counter(
            "tocsin_ingest_requests",
            "Requests to /v1/samples, by HTTP status code.",
            ["code"],
            registry=self.registry,
        )
        for result in ("accepted", "rejected"):
            self.ingest_samples.labels(result=result)
        self.events = Counter(
            "tocsin_events",
            "Events pushed to /v1/events, by type and what they did (refused: a 400).",
            ["type", "action"],
            registry=self.registry,
        )
        self.incidents: dict[str, int] = dict.fromkeys(INCIDENT_STATUSES, 0)
        self.outbox_pending = 0
        self.outbox_failed = 0
        self.dispatcher: Dispatcher | None = None
        """Set by the service: its delivery counts are served too."""
        self.registry.register(_LiveCollector(self))

    def observe_tick(self, elapsed: float, rules: int) -> None:
        """The engine's ``on_tick`` hook."""
        self.ticks.inc()
        self.tick_duration.observe(elapsed)
        self.rules_evaluated.inc(rules)

    def count_samples(self, accepted: int, rejected: int) -> None:
        if accepted:
            self.ingest_samples.labels(result="accepted").inc(accepted)
        if rejected:
            self.ingest_samples.labels(result="rejected").inc(rejected)

    def count_event(self, kind: str, action: str) -> None:
        self.events.labels(type=kind, action=action).inc()

    def count_ingest_request(self, code: int) -> None:
        self.ingest_requests.labels(code=str(code)).inc()

    async def refresh(self) -> None:
        """Read the database-backed values (call before ``render``)."""
        async with self.core.db.read() as session:
            counts = await IncidentRepository(session).count_by_status()
            pending = await OutboxRepository(session).pending_count()
            failed = await OutboxRepository(session).failed_count()
        self.incidents = {**dict.fromkeys(INCIDENT_STATUSES, 0), **counts}
        self.outbox_pending, self.outbox_failed = pending, failed

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Values read from the core at scrape time (and the cached database values)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # contents vary; nothing to check for clashes up front

    def collect(self) -> Iterator[Metric]:
        core, m = self.metrics.core, self.metrics
        incidents = GaugeMetricFamily(
            "tocsin_incidents", "Incidents in the database, by status.", labels=["status"]
        )
        for status, count in sorted(m.incidents.items()):
            incidents.add_metric([status], count)
        yield incidents

        rules = core.rulebook.all()
        enabled = sum(rule.enabled for rule in rules)
        gauge = GaugeMetricFamily("tocsin_rules", "Rules in effect, by state.", labels=["state"])
        gauge.add_metric(["enabled"], enabled)
        gauge.add_metric(["disabled"], len(rules) - enabled)
        yield gauge

        yield GaugeMetricFamily(
            "tocsin_outbox_pending", "Notifications not yet delivered.", value=m.outbox_pending
        )
        yield GaugeMetricFamily(
            "tocsin_outbox_failed",
            "Notifications given up on: an error no retry fixes, or too many attempts.",
            value=m.outbox_failed,
        )
        if m.dispatcher is not None:
            yield from _delivery_counters(m.dispatcher)
        yield GaugeMetricFamily(
            "tocsin_series", "Series tracked by the engine.", value=len(core.cache.states)
        )
        yield from _source_metrics(core)

        stats = core.store.stats()
        for key, help_text in WINDOW_GAUGES.items():
            yield GaugeMetricFamily(f"tocsin_window_{key}", help_text, value=stats.get(key, 0))
        yield CounterMetricFamily(
            "tocsin_window_samples_stored",
            "Samples stored in the ingest window store.",
            value=stats.get("samples_stored", 0),
        )
        dropped = CounterMetricFamily(
            "tocsin_window_samples_dropped",
            "Samples the ingest window store dropped, by reason.",
            labels=["reason"],
        )
        for reason in DROP_REASONS:
            dropped.add_metric([reason], stats.get(f"dropped_{reason}", 0))
        yield dropped


def _delivery_counters(dispatcher: Dispatcher) -> Iterator[Metric]:
    counts = dispatcher.counts
    delivered = CounterMetricFamily(
        "tocsin_deliveries", "Notifications delivered, by platform.", labels=["platform"]
    )
    for platform, count in sorted(counts.delivered.items()):
        delivered.add_metric([platform], count)
    yield delivered
    failures = CounterMetricFamily(
        "tocsin_delivery_failures",
        "Failed delivery attempts, by platform and outcome (retry, or given up).",
        labels=["platform", "outcome"],
    )
    for outcome, counter in (("retry", counts.retried), ("given_up", counts.failed)):
        for platform, count in sorted(counter.items()):
            failures.add_metric([platform, outcome], count)
    yield failures
    charts = CounterMetricFamily(
        "tocsin_charts",
        "Charts of incident messages, by outcome (attached; none: nothing to draw or "
        "no message of one incident to put it on; failed: a try that failed).",
        labels=["outcome"],
    )
    for outcome in ("attached", "none", "failed"):
        charts.add_metric([outcome], counts.charts.get(outcome, 0))
    yield charts


def _source_metrics(core: Core) -> Iterator[Metric]:
    """Per source: rule readings that were errors, fetch durations, queries run."""
    errors = CounterMetricFamily(
        "tocsin_source_errors",
        "Rule readings that were source errors, by source.",
        labels=["source"],
    )
    durations = SummaryMetricFamily(
        "tocsin_source_fetch_duration_seconds",
        "Wall time of one source's fetch for the rules of a tick.",
        labels=["source"],
    )
    last = GaugeMetricFamily(
        "tocsin_source_last_fetch_seconds",
        "Wall time of each source's latest fetch.",
        labels=["source"],
    )
    queries = CounterMetricFamily(
        "tocsin_source_queries",
        "Queries, requests or reads a source made (shared by the rules that read the same).",
        labels=["source"],
    )
    for name, stats in sorted(core.engine.stats.sources.items()):
        errors.add_metric([name], stats.errors)
        durations.add_metric([name], count_value=stats.fetches, sum_value=stats.seconds)
        last.add_metric([name], stats.last_seconds)
    for name, source in sorted(core.engine.sources.items()):
        if isinstance(source, CountsQueries):
            queries.add_metric([name], source.queries)
    yield from (errors, durations, last, queries)
