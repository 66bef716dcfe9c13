"""Making an incident's chart without holding up the event loop.

The history is read on the loop (an async database read, then only the incident's
series kept); the values are computed and the PNG drawn in a worker *process* of this
object's own, one chart at a time. A thread would not do: drawing is mostly Python
holding the GIL for a tenth of a second or more, and while it runs every hand-over the
loop needs (each database call through aiosqlite's thread, each socket) waits for the
GIL, which made the next incident's message several times slower in
benchmarks/charts.py. The process is started with ``spawn`` (never ``fork`` from a
process running threads), on the first chart, and imports matplotlib once."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from monitors.backtest.history import SampleHistory, SeriesHistory
from monitors.charts import render
from monitors.charts.series import (
    ChartRequest,
    chart_data,
    chart_request,
    load_history,
    one_series,
)
from storage.models import IncidentRow

log = logging.getLogger(__name__)
DEFAULT_CHART_WINDOW = 3 * 3600.0
"""How far back a chart looks (config ``chart_window``)."""


def draw(history: SeriesHistory, request: ChartRequest, now: float, window: float) -> bytes | None:
    """In the worker process: the values, then the PNG; None with no value to draw."""
    data = chart_data(history, request, now, window)
    return render.render_png(data) if data.has_values else None


class Charts:
    def __init__(self, history: SampleHistory, window: float = DEFAULT_CHART_WINDOW) -> None:
        self.history = history
        self.window = window
        self._pool: ProcessPoolExecutor | None = None

    @staticmethod
    def request(incident: IncidentRow) -> ChartRequest | None:
        """What a chart of ``incident`` needs, read while its row is at hand; None when
        it has no chart (see ``chart_rule``)."""
        return chart_request(incident)

    async def png(self, request: ChartRequest, now: float) -> bytes | None:
        """The chart, or None when the window holds no value of the series."""
        loaded = await load_history(self.history, request, now, self.window)
        history = one_series(loaded, request.rule, request.series)
        if not history.buckets.get(request.rule.metric):
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), draw, history, request, now, self.window
            )
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one
            self._pool = None  # next time; this chart is retried by its outbox row
            raise

    def warm(self) -> None:
        """Start the worker process and import matplotlib there now (a couple of
        seconds of its CPU), so the first incident's chart does not wait for that."""
        started = self._executor().submit(render.warm)
        started.add_done_callback(_log_failure)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("starting the chart worker failed: %s", future.exception())
