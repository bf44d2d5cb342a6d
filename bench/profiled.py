"""Membergate's application under pyinstrument, for bench.profile.

It is served as `membergate serve` serves it, behind membergate.asgi's
front, with one request thread, so every request runs on the thread the
profiler watches. Requests BENCH_PROFILE_SKIP + 1 to
BENCH_PROFILE_SKIP + BENCH_PROFILE_REQUESTS are profiled; the report goes
to BENCH_PROFILE_OUT.txt.
"""

import itertools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pyinstrument import Profiler

from membergate.asgi import build_application
from membergate.wsgi import application as membergate_application

SKIP = int(os.environ.get("BENCH_PROFILE_SKIP", "500"))
COUNT = int(os.environ.get("BENCH_PROFILE_REQUESTS", "2000"))
OUT = Path(os.environ.get("BENCH_PROFILE_OUT", "profile"))

_seen = itertools.count(1)
_profiler = Profiler(interval=0.0005, async_mode="disabled")


def profiled(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    number = next(_seen)
    if number == SKIP + 1:
        _profiler.start()
    try:
        # The body is read and the response closed here, so the work Django
        # does when a response closes is in the profile too.
        result = membergate_application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
    finally:
        if number == SKIP + COUNT:
            _profiler.stop()
            OUT.with_suffix(".txt").write_text(
                _profiler.output_text(unicode=True, color=False, show_all=False)
            )
    return [body]


application = build_application(profiled, threads=1)
