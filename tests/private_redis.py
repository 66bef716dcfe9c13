"""A redis-server of the test's own, on a unix socket in a temporary folder (no port),
for what the shared server must not be given: a small ``maxmemory``."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ON_CI


@contextmanager
def private_redis(folder: Path, maxmemory: str) -> Iterator[str]:
    """Yields the server's ``unix://`` URL; skips (fails under CI) without redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed"
        if ON_CI:
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    socket = folder / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(socket), "--maxmemory", maxmemory,
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"unix://{socket}"
    finally:
        process.terminate()
        process.wait(timeout=10)
