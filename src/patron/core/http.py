"""HTTP plumbing: the request type views rely on, and a WSGI wrapper that reports Django's time per request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:  # the models need Django started, and a WSGI wrapper is imported before that
    from patron.core.models import User

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AuthedRequest(HttpRequest):
    """A request from a signed-in user, with htmx details from django-htmx's middleware."""

    user: User
    htmx: HtmxDetails


def with_server_timing(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app so each response says how long the app took to start it (``Server-Timing: app;dur=ms``).

    The figure excludes the HTTP server and the network, so a benchmark can tell queueing from work.
    """

    def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()

        def timed_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.2f}"))
            return start_response(status, headers, exc_info)

        return app(environ, timed_start)

    return timed
