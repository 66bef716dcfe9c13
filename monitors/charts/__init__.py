"""Charts of incidents: the metric over the last hours, the rule's threshold lines and
the breach marked, as a small PNG that chat messages carry (bot.delivery.charts).

``series`` reads what the rule read from the sample history, ``render`` draws it with
matplotlib's Agg backend, and ``Charts`` does both off the event loop, in a worker
thread of its own. Only incidents of a rule reading pushed samples (``source: ingest``)
have a chart; events, source-down and Tocsin's own incidents have none."""

from monitors.charts.charts import DEFAULT_CHART_WINDOW, Charts
from monitors.charts.series import ChartData, ChartRequest, chart_rule

__all__ = ["DEFAULT_CHART_WINDOW", "ChartData", "ChartRequest", "Charts", "chart_rule"]
