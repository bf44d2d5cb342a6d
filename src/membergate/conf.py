"""Strict parsing of Membergate's environment variables.

Every variable Membergate reads is listed in the README. A value that cannot
be understood stops the program with a message naming the variable, instead
of being silently replaced by a default.
"""

import ipaddress
import os
import secrets
import zoneinfo
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    """Return the variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use 1/0, true/false, yes/no or on/off"
    )


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if not minimum <= number <= maximum:
        raise ImproperlyConfigured(
            f"{name}={number} is out of range: it must be from {minimum} to {maximum}"
        )
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not one of: {', '.join(choices)}"
        )
    return value.lower()


def env_time_zone(name: str, default: str) -> str:
    """An IANA time zone name, such as Europe/Berlin."""
    value = _raw(name)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a time zone: use a name such as UTC, "
            "Europe/Berlin or America/New_York"
        ) from None
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(
    name: str,
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses and networks (``10.0.0.1``, ``10.0.0.0/8``), comma-separated."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network "
                "(like 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return networks


def env_base_url(name: str) -> str | None:
    """Return an absolute http(s) URL without a trailing slash, or None."""
    value = _raw(name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an absolute http:// or https:// URL"
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{name}={value!r} must not have a query or fragment"
        )
    return value.rstrip("/")


def env_secret(name: str, generated_file: Path) -> str:
    """Read a secret from NAME, from the file named by NAME_FILE, or generate it.

    A generated secret is written once to ``generated_file`` (mode 0600) and
    read back on every later start, so sessions and password links survive a
    restart.
    """
    value = _raw(name)
    if value is not None:
        return value
    file_name = _raw(f"{name}_FILE")
    if file_name is not None:
        try:
            secret = Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}"
            ) from None
        if not secret:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty")
        return secret
    if generated_file.exists():
        return generated_file.read_text().strip()
    generated_file.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and linked into place: when several processes
    # start at once, exactly one link succeeds and every process reads the
    # same complete secret.
    scratch = generated_file.with_name(f".{generated_file.name}.{os.getpid()}")
    scratch.write_text(secrets.token_urlsafe(50))
    scratch.chmod(0o600)
    try:
        os.link(scratch, generated_file)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()
    return generated_file.read_text().strip()


def mailers(name: str, data_dir: Path) -> dict[str, dict[str, object]]:
    """Turn EMAIL_URL into Django's MAILERS setting.

    ``smtp://user:pass@host:port`` (``smtp+tls`` for STARTTLS, ``smtp+ssl``
    for implicit TLS), ``file:`` (one .eml file a message under the data
    directory, the default) or ``console:``. Error messages never repeat the
    URL, which may hold a password.
    """
    value = _raw(name) or "file:"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    backend: dict[str, object]
    if scheme == "file":
        backend = {
            "BACKEND": "membergate.mail.backends.EmlFileBackend",
            "OPTIONS": {"file_path": str(data_dir / "outbox")},
        }
    elif scheme == "console":
        backend = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    elif scheme in ("smtp", "smtp+tls", "smtp+ssl"):
        backend = {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": _smtp_options(name, scheme, parts),
        }
    else:
        raise ImproperlyConfigured(
            f"{name} must start with smtp://, smtp+tls://, smtp+ssl://, file: or console:"
        )
    return {"default": backend}


def _smtp_options(name: str, scheme: str, parts: SplitResult) -> dict[str, object]:
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number") from None
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name} names no mail server host")
    return {
        "host": parts.hostname,
        "port": port or {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}[scheme],
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_tls": scheme == "smtp+tls",
        "use_ssl": scheme == "smtp+ssl",
        "timeout": 20,
    }
