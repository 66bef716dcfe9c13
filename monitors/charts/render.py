"""Drawing a chart: matplotlib's object API on the Agg backend (no pyplot, no global
figure state, so it is safe in a worker thread), 600 x 260 pixels, a PNG of a few tens
of KiB. Imported lazily, in the thread that draws: matplotlib takes most of a second to
import, which the event loop must not wait for."""

from __future__ import annotations

import io
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from monitors.charts.series import ChartData
from monitors.formatting import format_value
from monitors.incidents.cards import RESOLVED_COLOR, SEVERITY_COLORS

WIDTH, HEIGHT, DPI = 6.0, 2.6, 100
LINE_COLOR = "#1D4ED8"
BREACH_SHADE = "#E01E5A"
_prepared = threading.Lock()


def prepare_matplotlib() -> None:
    """Before the first import: the Agg backend, and a writable cache directory when
    MPLCONFIGDIR is not set (matplotlib writes its font cache under the home directory,
    which a container may mount read-only)."""
    with _prepared:
        os.environ.setdefault("MPLBACKEND", "Agg")
        if "MPLCONFIGDIR" not in os.environ:
            cache = Path(tempfile.gettempdir()) / "tocsin-matplotlib"
            cache.mkdir(parents=True, exist_ok=True)
            os.environ["MPLCONFIGDIR"] = str(cache)


def warm() -> None:
    """Import what drawing needs, ahead of the first chart."""
    prepare_matplotlib()
    from matplotlib import figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401


def render_png(data: ChartData) -> bytes:
    """The chart as PNG bytes."""
    prepare_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = [_utc(t) for t in data.times]
    values = [float("nan") if v is None else v for v in data.values]
    axes.plot(times, values, color=LINE_COLOR, linewidth=1.4, label=data.reads)
    for level, threshold in data.thresholds:
        color = SEVERITY_COLORS.get(level, SEVERITY_COLORS["error"])
        axes.axhline(threshold, color=color, linewidth=1.0, linestyle="--", label=level)
    fired = max(data.fired_at, data.times[0])
    until = data.resolved_at if data.resolved_at is not None else data.times[-1]
    if fired <= data.times[-1]:
        axes.axvspan(_utc(fired), _utc(max(until, fired)), color=BREACH_SHADE, alpha=0.12)
        axes.axvline(_utc(fired), color=BREACH_SHADE, linewidth=1.2, label="fired")
    if data.resolved_at is not None and data.times[0] <= data.resolved_at <= data.times[-1]:
        axes.axvline(_utc(data.resolved_at), color=RESOLVED_COLOR, linewidth=1.2, label="resolved")
    axes.set_title(f"{data.title}: {data.reads}", fontsize=9, loc="left")
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, data.style)))
    axes.tick_params(labelsize=8)
    axes.set_xlabel("UTC", fontsize=8)
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left", frameon=False, ncols=4)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
