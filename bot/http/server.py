"""Starting and stopping the HTTP server.

Without an API token the API has no auth, so the server then refuses to listen anywhere
but loopback (127.0.0.1, ::1, localhost)."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot.http.common import API_TOKEN

SHUTDOWN_TIMEOUT = 5.0


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def start_server(
    app: web.Application, host: str, port: int, api_token: str | None
) -> tuple[web.AppRunner, int]:
    """Listen on ``host:port`` (0 picks a free port); returns the runner and the real port.

    Raises ValueError for a non-loopback host when there is no API token (neither given
    here nor built into ``app``)."""
    token = app.get(API_TOKEN, api_token)
    if not (api_token and token) and not is_loopback(host):
        raise ValueError(
            f"TOCSIN_API_TOKEN must be set to listen on {host or 'all interfaces'}; "
            f"without it the API has no authentication. Set it, or listen on 127.0.0.1."
        )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        # "[::1]" (URL form) passes is_loopback; the socket wants the bare address.
        bind = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        site = web.TCPSite(runner, bind, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


async def stop_server(runner: web.AppRunner) -> None:
    """Stop accepting, let requests in flight finish (up to a few seconds), close."""
    await runner.cleanup()
