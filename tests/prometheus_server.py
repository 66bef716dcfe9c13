"""A real Prometheus (Debian's ``prometheus`` package) scraping a target the test serves.

Prometheus is started on ``127.0.0.1:0``: it binds a port the kernel picks and logs
``msg="Listening on" address=127.0.0.1:PORT``, which is read back here, so there is no
"free port" guess and no collision to retry. The target is a plain HTTP server (port 0)
whose exposition text the test changes as it goes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')
SCRAPE_INTERVAL = 1.0


@dataclass
class Target:
    """The metrics page Prometheus scrapes: ``text`` is served as it stands."""

    text: str = ""
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]


@contextmanager
def serve_target(text: str) -> Iterator[Target]:
    target = Target(text)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = target.text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # scrapes every second would drown the test output

    target.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=target.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def run_prometheus(folder: Path, target_port: int) -> Iterator[Prometheus]:
    """Start Prometheus scraping ``target_port`` every second; wait until it has."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise FileNotFoundError("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL:g}s\n"
        f"scrape_configs:\n  - job_name: app\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--web.listen-address=127.0.0.1:0",
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GOMAXPROCS": "1"},
        )
    try:
        port = _wait_for_port(log_path, process)
        url = f"http://127.0.0.1:{port}"
        _wait_for_scrape(url)
        yield Prometheus(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(log_path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"prometheus did not say where it listens: {log_path.read_text()[-2000:]}")


def _wait_for_scrape(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": "up"}, timeout=2).json()
        except httpx.HTTPError:
            answer = {}
        results = (answer.get("data") or {}).get("result") or []
        if any(r["value"][1] == "1" for r in results):
            return
        time.sleep(0.2)
    raise TimeoutError("prometheus never scraped the target")
