"""HTTP requests whose whole duration is capped, not only each socket read.

A socket timeout bounds one read: a server that trickles a byte every half second never trips it,
and headers read that way hold a request for as long as the server likes. `open_with_deadline`
opens a URL with urllib (proxies and HTTPS as usual) and starts a watchdog timer; when the
deadline passes before the caller is done, the watchdog shuts the connection's socket down,
which wakes any blocked read, and the request ends with `DeadlineExceeded`. The timer is
cancelled and joined when the request ends, so no thread outlives it.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WATCHDOG_THREAD_NAME = "medmim-http-deadline"
ERROR_BODY_BYTES = 1024  # of an HTTP error's body, kept for the message


class DeadlineExceeded(TimeoutError):
    """The request was not complete within its total time limit."""


class _Sockets:
    """The sockets a request opened, shut down together when its deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed or never connected
        pass


def _watch(connection: http.client.HTTPConnection, sockets: _Sockets) -> None:
    """Register the connection's TCP socket as soon as it exists (before a proxy tunnel or TLS is set up)."""
    # http.client opens its socket through this instance attribute (CPython's, not in typeshed's stubs)
    create = connection._create_connection  # type: ignore[attr-defined]

    def create_and_watch(*args: Any, **kwargs: Any) -> socket.socket:
        sock = create(*args, **kwargs)
        sockets.add(sock)
        return sock

    connection._create_connection = create_and_watch  # type: ignore[attr-defined]


def _opener(sockets: _Sockets) -> urllib.request.OpenerDirector:
    class Connection(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _watch(self, sockets)

    class SecureConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _watch(self, sockets)

        def connect(self) -> None:
            super().connect()
            sockets.add(self.sock)  # the TLS socket that replaced the TCP one

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            # the SSL context HTTPSHandler keeps from its constructor (CPython's, not in typeshed's stubs)
            return self.do_open(SecureConnection, req, context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(Handler, SecureHandler)


def _read_error_head(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(ERROR_BODY_BYTES)
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


@contextmanager
def open_with_deadline(
    request: urllib.request.Request, total_s: float, read_timeout_s: float | None = None
) -> Iterator[http.client.HTTPResponse]:
    """`urlopen(request)` whose connect, headers and every read done inside the block end by `total_s`.

    `read_timeout_s` (default `total_s`) is the socket timeout of each read. When the deadline
    passes, whatever the block is doing fails and `DeadlineExceeded` is raised instead, also when
    the cut-off connection looked like a normal end of the body. An HTTP error status raises
    HTTPError holding the first ERROR_BODY_BYTES of its body (read within the deadline); other
    errors that happen before the deadline are raised unchanged.
    """
    sockets = _Sockets()
    watchdog = threading.Timer(total_s, sockets.expire)
    watchdog.name = WATCHDOG_THREAD_NAME
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            with _opener(sockets).open(request, timeout=min(total_s, read_timeout_s or total_s)) as response:
                yield response
        except urllib.error.HTTPError as error:
            head = _read_error_head(error)  # now, while the watchdog still guards the connection
            if sockets.expired:
                raise DeadlineExceeded(f"not complete within {total_s:g} s") from error
            raise urllib.error.HTTPError(error.url, error.code, error.msg, error.hdrs, io.BytesIO(head)) from error
        except Exception as error:
            if sockets.expired:
                raise DeadlineExceeded(f"not complete within {total_s:g} s") from error
            raise
        if sockets.expired:
            raise DeadlineExceeded(f"not complete within {total_s:g} s")
    finally:
        watchdog.cancel()
        watchdog.join()
