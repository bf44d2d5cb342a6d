"""The real `membergate serve`, on a scratch database, watched from /proc."""

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

MEMBERGATE = str(Path(sys.executable).with_name("membergate"))
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Database:
    """SQLite in the data dir, or a fresh PostgreSQL database dropped at close."""

    def __init__(self, kind: str, data_dir: Path, postgres_url: str) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.server_url = postgres_url
        self.name = f"bench_{secrets.token_hex(6)}"
        self.url = ""
        if kind == "postgres":
            self._admin(f'CREATE DATABASE "{self.name}"')
            parts = urlsplit(postgres_url)
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "membergate.sqlite3"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.encode())

    def drop(self) -> None:
        if self.url:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.url = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def descendants(pid: int) -> list[int]:
    """The process and everything it started, from /proc's children lists."""
    found = [pid]
    index = 0
    while index < len(found):
        task_dir = Path(f"/proc/{found[index]}/task")
        index += 1
        try:
            tasks = list(task_dir.iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            found.extend(int(child) for child in children)
    return found


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes."""
    total = 0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/statm").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[1]) * PAGE_SIZE
    return total


class MemoryPeak:
    """Samples a process tree's RSS every 50 ms while in a `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> "MemoryPeak":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))


class Server:
    """`membergate serve` on loopback with production settings."""

    def __init__(self, database: Database, data_dir: Path, **env: str) -> None:
        self.database = database
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MEMBERGATE_", "DATABASE_URL", "EMAIL_URL"))
        }
        self.env.update(
            MEMBERGATE_DATA_DIR=str(data_dir),
            MEMBERGATE_BASE_URL=self.base_url,
            MEMBERGATE_BENCH_ENDPOINTS="1",
            MEMBERGATE_LOG_LEVEL="warning",
            **env,
        )
        if database.url:
            self.env["DATABASE_URL"] = database.url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def membergate(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a membergate command; return its last line of output."""
        result = subprocess.run(
            [MEMBERGATE, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"membergate {' '.join(args)}: {result.stderr}")
        lines = result.stdout.strip().splitlines()
        return lines[-1] if lines else ""

    def start(self, workers: int, threads: int, worker: bool = False) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "serve.log").open("ab")
        command = [
            MEMBERGATE, "serve",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", str(workers),
            "--threads", str(threads),
        ]  # fmt: skip
        if not worker:
            command.append("--no-worker")
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"serve did not become healthy: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
