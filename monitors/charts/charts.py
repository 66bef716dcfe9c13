"""Making an incident's chart without holding up the event loop: the history is read
from the database on the loop (an async read), the values computed and the PNG drawn in
a worker thread of this object's own, one chart at a time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from monitors.backtest.history import SampleHistory, SeriesHistory
from monitors.charts.render import render_png
from monitors.charts.series import ChartRequest, chart_data, chart_request, load_history
from storage.models import IncidentRow

DEFAULT_CHART_WINDOW = 3 * 3600.0
"""How far back a chart looks (config ``chart_window``)."""


class Charts:
    def __init__(self, history: SampleHistory, window: float = DEFAULT_CHART_WINDOW) -> None:
        self.history = history
        self.window = window
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tocsin-chart")

    @staticmethod
    def request(incident: IncidentRow) -> ChartRequest | None:
        """What a chart of ``incident`` needs, read while its row is at hand; None when
        it has no chart (see ``chart_rule``)."""
        return chart_request(incident)

    async def png(self, request: ChartRequest, now: float) -> bytes | None:
        """The chart, or None when the window holds no value of the series."""
        history = await load_history(self.history, request, now, self.window)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._draw, history, request, now)

    def _draw(self, history: SeriesHistory, request: ChartRequest, now: float) -> bytes | None:
        data = chart_data(history, request, now, self.window)
        return render_png(data) if data.has_values else None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
