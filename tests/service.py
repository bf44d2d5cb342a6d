"""Run the real `membergate` command in tests, on a database of its own."""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

MEMBERGATE = str(Path(sys.executable).with_name("membergate"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ScratchDatabase:
    """A PostgreSQL database made for one test, or None on SQLite.

    The test run's own DATABASE_URL says which server; processes started by
    the test get a fresh database there, dropped afterwards.
    """

    def __init__(self) -> None:
        self.server_url = os.environ.get("DATABASE_URL", "")
        self.url: str | None = None
        if self.server_url:
            self.name = f"mg_scratch_{secrets.token_hex(6)}"
            self._admin(f'CREATE DATABASE "{self.name}"')
            parts = urlsplit(self.server_url)
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.encode())

    def drop(self) -> None:
        if self.url:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Service:
    """`membergate serve` in a subprocess, with its own data dir and database.

    `serve` is the command that starts it, `membergate serve` unless told.
    """

    def __init__(
        self, data_dir: Path, serve: tuple[str, ...] = (MEMBERGATE, "serve"), **env: str
    ) -> None:
        self.data_dir = data_dir
        self.serve = serve
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database = ScratchDatabase()
        self.env = {
            **os.environ,
            "MEMBERGATE_DATA_DIR": str(data_dir),
            "MEMBERGATE_BASE_URL": self.base_url,
            **env,
        }
        self.env.pop("DATABASE_URL", None)
        if self.database.url:
            self.env["DATABASE_URL"] = self.database.url
        self.process: subprocess.Popen[str] | None = None
        self.output = ""
        self.admin_email = ""
        self.admin_password = ""
        self.api_key = ""

    def membergate(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MEMBERGATE, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self, *args: str, timeout: float = 60) -> "Service":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "serve.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *self.serve,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *args,
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.read_log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise TimeoutError(f"serve did not become healthy: {self.read_log()}")
        os.set_blocking(self.process.stdout.fileno(), False)
        self.output += self.process.stdout.read() or ""
        # Credentials are printed on the first start only.
        self.admin_email = self._printed("admin email") or self.admin_email
        self.admin_password = self._printed("admin password") or self.admin_password
        self.api_key = self._printed("API key") or self.api_key

    def _printed(self, label: str) -> str:
        match = re.search(rf"^\s*{label}:\s*(\S+)\s*$", self.output, re.MULTILINE)
        return match.group(1) if match else ""

    def sign_in_to_the_admin(self, client: httpx.Client) -> httpx.Response:
        """Sign `client` in as the first run's admin; the login form's answer."""
        login = client.get(f"{self.base_url}/admin/login/")
        return client.post(
            f"{self.base_url}/admin/login/?next=/admin/",
            data={
                "username": self.admin_email,
                "password": self.admin_password,
                "csrfmiddlewaretoken": login.cookies["csrftoken"],
            },
        )

    def read_log(self) -> str:
        return (self.data_dir / "serve.log").read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
        self.database.drop()

    def __enter__(self) -> "Service":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
