"""Calling the incoming API in tests, through Django's test client."""

import json as jsonlib
from typing import Any

from django.test import Client

BASES = ["/api/v1", "/wp-json/opm-api/v1"]


class Api:
    """A sender with a key, calling one base URL."""

    def __init__(self, secret: str, base: str = "/api/v1") -> None:
        self.client = Client(REMOTE_ADDR="203.0.113.5")
        self.secret = secret
        self.base = base

    def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        data: Any = None,
        json: Any = None,
        body: bytes | str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        key: bool = True,
    ) -> Any:
        headers = dict(headers or {})
        if key:
            headers.setdefault("X-API-Key", self.secret)
        url = f"{self.base}{path}"
        if query:
            url += f"?{query}"
        kwargs: dict[str, Any] = {"headers": headers}
        if json is not None:
            kwargs["data"] = jsonlib.dumps(json)
            kwargs["content_type"] = "application/json"
        elif body is not None:
            return self.client.generic(
                method, url, data=body, content_type=content_type or "", **kwargs
            )
        elif data is not None:
            kwargs["data"] = data
            if content_type:
                kwargs["content_type"] = content_type
        return getattr(self.client, method.lower())(url, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)
