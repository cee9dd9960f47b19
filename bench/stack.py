"""The processes and databases of a bench run: kasse, the test gateway, the baseline app.

Every server is a real process on a free loopback port. Its CPU time and resident memory
are read from ``/proc`` (the whole process tree, so uvicorn's worker processes count).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from kasse.demo import DEMO_STORE_FILE

API = "/umbraco/commerce/storefront/api"
API_KEY = "bench-api-key-0123456789"
MERCHANT = "kasse-demo"
SIGNING_SECRET = "demo-signing-secret-change-me"  # noqa: S105 (the demo store's test secret)
BENCH_STOCK = 10_000_000
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- /proc ------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its ')' is split.
    return raw[raw.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU time of the live process tree under ``root``."""
    total = 0
    for pid in process_tree(root):
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * _PAGE / 1024 / 1024


def worker_rss_mb(root: int) -> list[float]:
    """Resident memory of each serving process: the workers, or the root if it has none."""
    tree = process_tree(root)
    workers = [pid for pid in tree[1:] if _is_python(pid)]
    return [round(rss_mb(pid), 1) for pid in (workers or [root])]


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process has held so far (``VmHWM``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_peak_rss_mb(root: int) -> list[float]:
    """The peak resident memory of each serving process (as ``worker_rss_mb`` picks them)."""
    tree = process_tree(root)
    workers = [pid for pid in tree[1:] if _is_python(pid)]
    return [round(peak_rss_mb(pid), 1) for pid in (workers or [root])]


def _is_python(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # uvicorn's workers are spawned interpreters; the spawn's resource tracker is not one.
    return b"python" in cmdline and b"resource_tracker" not in cmdline


# --- servers ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


@contextmanager
def serve(name: str, args: list[str], env: dict[str, str], port: int, logs: Path,
          health: str = "/health") -> Iterator[Server]:
    """Starts a server process and waits until ``health`` answers 200; stops it after."""
    url = f"http://127.0.0.1:{port}"
    log_path = logs / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(args, env=env, stdout=log,  # noqa: S603 (our own args)
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + health, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield Server(name, url, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def kasse_env(database_url: str, folder: Path, public_url: str) -> dict[str, str]:
    return {**os.environ, "KASSE_DATABASE_URL": database_url, "KASSE_API_KEYS": API_KEY,
            "KASSE_DATA_DIR": str(folder), "KASSE_LOG_LEVEL": "warning",
            "KASSE_PUBLIC_URL": public_url, "KASSE_TEST_GATEWAY": "false",
            # Every virtual shopper comes from one address: no per-client limit here.
            "KASSE_CHECKOUT_RATE_PER_MINUTE": "0"}


def gateway_args(port: int) -> list[str]:
    return [sys.executable, "-m", "kasse.payments.testgateway", "--host", "127.0.0.1",
            "--port", str(port), "--merchant", f"{MERCHANT}:{SIGNING_SECRET}",
            "--log-level", "warning"]


def kasse_args(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "kasse", "serve", "--port", str(port),
            "--workers", str(workers)]


def bench_store_file(folder: Path, gateway_url: str) -> Path:
    """The demo store with its card payments going to ``gateway_url`` and stock enough for
    any run (every tracked stock becomes ``BENCH_STOCK``)."""
    text = DEMO_STORE_FILE.read_text(encoding="utf-8")
    old = 'GatewayUrl: ""'
    if text.count(old) != 1:
        raise RuntimeError(f"the demo store file no longer has {old!r} once")
    text = text.replace(old, f'GatewayUrl: "{gateway_url}"')
    text = re.sub(r"\bstock: \d+", f"stock: {BENCH_STOCK}", text)
    path = folder / "bench-store.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def prepare_database(database_url: str, folder: Path, store_file: Path) -> None:
    """Migrates the database and imports the store, as an operator would."""
    env = kasse_env(database_url, folder, "http://127.0.0.1")
    for args in (["migrate"], ["import", str(store_file)]):
        done = subprocess.run([sys.executable, "-m", "kasse", *args], env=env,  # noqa: S603
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"kasse {args[0]} failed:\n{done.stdout}\n{done.stderr}")


# --- databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'bench.db'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    server = make_url(server_url)
    name = f"kasse_bench_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(host=server.host or "127.0.0.1", port=server.port or 5432,
                                     user=server.username or "postgres",
                                     password=server.password,
                                     database=server.database or "postgres", timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
