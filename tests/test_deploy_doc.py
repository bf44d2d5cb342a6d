"""The files shown in docs/deploy.md are valid for the tools that read them.

Each check runs when its tool is installed (Debian: systemd, caddy, nginx,
openssl) and is skipped, saying which, when it is not.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.service import MEMBERGATE

DOC = Path(__file__).parent.parent / "docs" / "deploy.md"


def doc_files() -> dict[str, str]:
    text = DOC.read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.DOTALL)
    return dict(blocks)


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
