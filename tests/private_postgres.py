"""A PostgreSQL server of the test's own, for what the shared one cannot do: load
pg_stat_statements (``shared_preload_libraries`` needs a restart). It listens on a unix
socket in a temporary folder only, so it needs no port at all."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise FileNotFoundError("initdb")
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the postgres user then."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise FileNotFoundError("runuser")
    return [runuser, "-u", "postgres", "--", *command]


@contextmanager
def private_postgres(folder: Path, *settings: str) -> Iterator[str]:
    """Start a server with ``-c`` ``settings``; yields its asyncpg DSN."""
    bin_dir = _binaries()
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                      "--no-sync"]),
        check=True,
        capture_output=True,
    )  # fmt: skip
    options = ["-c", "listen_addresses=", "-k", str(folder), "-c", "fsync=off"]
    for setting in settings:
        options += ["-c", setting]
    process = subprocess.Popen(
        _as_postgres([str(bin_dir / "postgres"), "-D", str(data), *options]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (folder / ".s.PGSQL.5432").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private PostgreSQL did not start")
            time.sleep(0.05)
        time.sleep(0.2)  # the socket exists a moment before connections are accepted
        yield f"postgresql://postgres@/postgres?host={folder}"
    finally:
        process.terminate()
        process.wait(timeout=30)
