"""The application `membergate serve` runs: Django behind a body-first front.

A request thread should only ever wait for the database, never for a
client. A WSGI server hands a request to a thread as soon as its headers
are in, and the thread then reads the body as slowly as the client sends
it: a few clients that declare a body and stall would hold every thread.
Here the body is read on the server's event loop, within a deadline, and
only a request that has fully arrived goes to one of the request threads,
which runs Django's WSGI handler and gives back the whole answer at once.

A request whose body does not arrive within the deadline still goes to a
thread, with an empty body and LATE_BODY set in its environ: Django then
answers it 408 without reading anything, and the API records it in its
request log like every other call.

One hand-off to a thread and one back is all a request costs here.
a2wsgi's general bridge, measured in its place, hands every part of the
answer back separately and halved the rate of the cheapest requests; its
conversion of the ASGI scope into a WSGI environ is used as it is.
"""

import asyncio
import io
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "membergate.settings")

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

from membergate import conf
from membergate.core.latebody import LATE_BODY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Handler = Callable[[Scope, bytes, Send], Awaitable[None]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class ClientGone(Exception):
    """The client closed the connection before its body was complete."""


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, or its first `limit` + 1 bytes when it is longer."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        body += message.get("body", b"")
        if len(body) > limit or not message.get("more_body", False):
            return bytes(body[: limit + 1])


async def send_answer(send: Send, answer: Answer) -> None:
    status, headers, content = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class ThreadedWSGI:
    """Run a WSGI application in a pool of threads, a whole answer at a time.

    Membergate's answers are small (JSON, admin pages, static files of a few
    KiB), so each is gathered in its thread and sent in one piece.
    """

    def __init__(self, app: WSGIApp, threads: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="request")

    async def __call__(self, scope: Scope, body: bytes, send: Send) -> None:
        environ: dict[str, Any] = dict(build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
        late = LATE_BODY in scope
        if late:
            environ[LATE_BODY] = scope[LATE_BODY]
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(
            self.executor, self.respond, environ
        )
        if late:
            # The rest of the body may still come: this connection is done.
            headers.append((b"connection", b"close"))
        await send_answer(send, (status, headers, content))

    def respond(self, environ: dict[str, Any]) -> Answer:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return self.refuse_write

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        encoded = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]
        return int(status.split(" ", 1)[0]), encoded, content

    @staticmethod
    def refuse_write(data: bytes) -> None:
        raise NotImplementedError("write() is not offered: return the body instead")


class BodyFirst:
    """Read each request's body before the application sees the request.

    A body declared longer than `limit` is not read at all, and a longer one
    sent in chunks is cut at `limit` + 1 bytes: either way the application
    finds it over its own limits and refuses it without having waited for
    the rest.
    """

    def __init__(self, handler: Handler, *, limit: int, timeout: float) -> None:
        self.handler = handler
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # granian's asginl mode sends no lifespan; no websockets
        declared = declared_length(scope)
        if declared is not None and declared > self.limit:
            body = b""
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    body = await read_body(receive, self.limit)
            except TimeoutError:
                scope = {**scope, LATE_BODY: self.timeout}
                body = b""
            except ClientGone:
                return
        await self.handler(scope, body, send)


def build_application(wsgi_application: WSGIApp, threads: int) -> BodyFirst:
    """Serve `wsgi_application` from `threads` request threads, bodies first."""
    # Every part of the application refuses bodies over this size.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        raise ImproperlyConfigured("DATA_UPLOAD_MAX_MEMORY_SIZE must be set")
    handler = ThreadedWSGI(wsgi_application, threads)
    return BodyFirst(handler, limit=limit, timeout=settings.BODY_TIMEOUT)


application = build_application(
    get_wsgi_application(),
    threads=conf.env_int("MEMBERGATE_THREADS", 2, minimum=1, maximum=64),
)
