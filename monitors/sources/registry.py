"""Every metric source, built once per process, and closed at shutdown."""

from __future__ import annotations

from monitors.sources.base import ClosableSource, Source
from monitors.sources.env import Environment
from monitors.sources.http_probe import HttpProbeSource
from monitors.sources.ingest import IngestSource
from monitors.sources.prometheus import PrometheusSource
from monitors.sources.redis import RedisSource
from monitors.sources.sql import SqlSource
from monitors.sources.system import SystemSource
from monitors.windows.store import WindowStore


def build_sources(store: WindowStore, environment: Environment) -> dict[str, Source]:
    """One source per ``Rule.source`` name (see monitors.sources.fields.SOURCES)."""
    return {
        "ingest": IngestSource(store),
        "sql": SqlSource(environment),
        "prometheus": PrometheusSource(environment),
        "http": HttpProbeSource(environment),
        "redis": RedisSource(environment),
        "system": SystemSource(),
    }


async def close_sources(sources: dict[str, Source]) -> None:
    """Close the pools and clients the sources opened."""
    for source in sources.values():
        if isinstance(source, ClosableSource):
            await source.close()
