"""The files shown in docs/deploy.md are valid for the tools that read them.

Each check runs when its tool is installed (Debian: systemd, caddy, nginx,
openssl) and is skipped, saying which, when it is not.
"""

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service import MEMBERGATE, ScratchDatabase, free_port

DOC = Path(__file__).parent.parent / "docs" / "deploy.md"


def doc_files() -> dict[str, str]:
    text = DOC.read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.DOTALL)
    return dict(blocks)


def doc_install_command() -> list[str]:
    """The guide's upgrade line that installs Membergate, without `uv`."""
    (line,) = re.findall(r"^uv sync .*$", DOC.read_text(), re.MULTILINE)
    return shlex.split(line, comments=True)[1:]


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=60
    )


def test_the_doc_holds_every_file_it_describes():
    assert set(doc_files()) == {
        "membergate.env",
        "membergate.service",
        "membergate-worker@.service",
        "Caddyfile",
        "nginx.conf",
        "prometheus.yml",
    }


def test_the_systemd_units_verify_cleanly(tmp_path):
    analyze = tool("systemd-analyze")
    files = doc_files()
    (tmp_path / "env").write_text(files["membergate.env"])
    names = {
        "membergate.service": "membergate.service",
        "membergate-worker@.service": "membergate-worker@1.service",
    }
    for source, target in names.items():
        unit = files[source].replace("/opt/membergate/bin/membergate", MEMBERGATE)
        unit = unit.replace("/etc/membergate/env", str(tmp_path / "env"))
        (tmp_path / target).write_text(unit)

    result = run(analyze, "verify", *(str(tmp_path / t) for t in names.values()))

    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert ours == []


def test_the_caddyfile_validates(tmp_path):
    caddy = tool("caddy")
    (tmp_path / "Caddyfile").write_text(doc_files()["Caddyfile"])
    result = run(
        caddy, "validate", "--config", str(tmp_path / "Caddyfile"), "--adapter",
        "caddyfile",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_the_nginx_site_passes_nginx_t(tmp_path):
    nginx = tool("nginx")
    openssl = tool("openssl")
    made = run(
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=members.example.com",
        "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    live = "/etc/letsencrypt/live/members.example.com"
    site = (
        doc_files()["nginx.conf"]
        .replace(f"{live}/fullchain.pem", str(tmp_path / "cert.pem"))
        .replace(f"{live}/privkey.pem", str(tmp_path / "key.pem"))
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/site.conf;\n}}\n"
    )

    result = run(
        nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
        "-e", "stderr",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_prometheus_scrape_config_passes_promtool(tmp_path):
    promtool = tool("promtool")
    (tmp_path / "prometheus.yml").write_text(doc_files()["prometheus.yml"])
    result = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


# The install, the environment file and the units' commands, run as written


def env_file() -> dict[str, str]:
    lines = doc_files()["membergate.env"].splitlines()
    pairs = (line.split("=", 1) for line in lines if line and line[0] != "#")
    return dict(pairs)


def exec_start(unit: str, prefix: Path, port: int) -> list[str]:
    line = next(
        line for line in doc_files()[unit].splitlines() if line.startswith("ExecStart=")
    )
    command = shlex.split(line.removeprefix("ExecStart="))
    command[0] = command[0].replace("/opt/membergate", str(prefix))
    return [str(port) if part == "8000" else part for part in command]


def wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200")


@pytest.mark.slow
def test_the_installed_units_serve_behind_the_proxy_as_documented(tmp_path):
    prefix = tmp_path / "opt-membergate"
    # `./run` installs uv beside the interpreter the project's environment
    # was made from.
    python = getattr(sys, "_base_executable", sys.executable)
    installed = subprocess.run(
        [python, "-m", "uv", *doc_install_command(), "--quiet"],
        cwd=DOC.parent.parent,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(prefix)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    # The code of this tree, never a wheel cached from an earlier one.
    tree = DOC.parent.parent / "src" / "membergate"
    [package] = prefix.glob("lib/python3.*/site-packages/membergate")
    stale = [
        str(path.relative_to(tree))
        for path in tree.rglob("*.py")
        if (package / path.relative_to(tree)).read_bytes() != path.read_bytes()
    ]
    assert stale == []

    database = ScratchDatabase()
    secret_key = tmp_path / "secret_key"
    secret_key.write_text(secrets.token_urlsafe(50))
    env = {
        # What systemd gives a unit, plus its EnvironmentFile, with the
        # places this machine cannot use replaced.
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **env_file(),
        "MEMBERGATE_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY_FILE": str(secret_key),
        "EMAIL_URL": "file:",
        "MEMBERGATE_METRICS_TOKEN": "metrics-token",
    }
    env.pop("DATABASE_URL")
    if database.url:
        env["DATABASE_URL"] = database.url
    port = free_port()
    local = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        exec_start("membergate.service", prefix, port),
        env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        exec_start("membergate-worker@.service", prefix, port),
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        wait_ready(f"{local}/ready", timeout=120)
        assert httpx.get(f"{local}/api/v1/memberships").status_code == 301
        key = printed(server, "API key")

        # As the TLS front forwards a client's call.
        proxied = {
            "Host": "members.example.com",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "X-Request-ID": "front-1234",
        }
        created = httpx.post(
            f"{local}/api/v1/members",
            json={"email": "ada@example.com", "notify": 1},
            headers={**proxied, "X-API-Key": key},
        )
        assert created.status_code == 201, created.text
        assert created.headers["X-Request-ID"] == "front-1234"
        metrics = httpx.get(
            f"{local}/metrics", headers={"Authorization": "Bearer metrics-token"}
        )
        assert metrics.status_code == 200
        linted = subprocess.run(
            [tool("promtool"), "check", "metrics"], input=metrics.text,
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert linted.returncode == 0, linted.stdout + linted.stderr
        outbox = tmp_path / "data" / "outbox"
        deadline = time.monotonic() + 60
        while not (outbox.is_dir() and any(outbox.iterdir())):
            assert time.monotonic() < deadline, "the worker sent no welcome email"
            time.sleep(0.2)
    finally:
        stopped = [stop(server, within=20), stop(worker, within=30)]
        log.close()

    try:
        assert stopped == [0, 0]
        logged = [json.loads(line) for line in (tmp_path / "serve.log").open()]
        assert [(line["status"], line["client"]) for line in logged
                if line.get("request_id") == "front-1234"] == [(201, "203.0.113.7")]  # fmt: skip
        source = subprocess.run(
            [str(prefix / "bin" / "membergate"), "manage", "shell", "--no-imports", "-c",
             "from membergate.api.models import RequestLog;"
             "print(RequestLog.objects.get(request_id='front-1234').source_ip)"],
            env=env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        assert source.strip() == "203.0.113.7"
        [email] = outbox.iterdir()
        assert "To: ada@example.com" in email.read_text()
    finally:
        database.drop()


def printed(process: subprocess.Popen[str], label: str) -> str:
    """A value `serve` printed on its first start, as `label: value`."""
    assert process.stdout is not None
    for line in process.stdout:
        name, _, value = line.partition(":")
        if name.strip() == label:
            return value.strip()
    raise AssertionError(f"serve printed no {label}")


def stop(process: subprocess.Popen[Any], within: float) -> int | None:
    """SIGTERM, as systemd stops a unit; the exit status, or None if it hung."""
    process.terminate()
    try:
        return process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
