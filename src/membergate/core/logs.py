"""Log formatting: JSON lines when LOG_FORMAT=json, and the request id."""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the request this thread is answering, set by RequestIdMiddleware.
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")

# Attributes every LogRecord has; anything else was passed in `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Extras Django attaches that must never be written out: the request's repr
# holds the full URL, query string included, where an API key may be.
_NEVER_WRITTEN = {"request", "server_time"}


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id`: the current request's, or "-".

    Django logs a 5xx answer after the middleware has returned it, but
    passes the request along, which carries its id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            request = getattr(record, "request", None)
            record.request_id = (
                current_request_id.get()
                or str(getattr(request, "request_id", ""))
                or "-"
            )
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD and key not in _NEVER_WRITTEN
        )
        if entry.get("request_id") == "-":
            del entry["request_id"]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
