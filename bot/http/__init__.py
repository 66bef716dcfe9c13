"""The REST API, ingest endpoint, ``/healthz`` and ``/metrics`` (aiohttp lives only here)."""
