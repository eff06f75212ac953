"""A tiny HTTP server for probes and metrics: ``/healthz``, ``/readyz`` and ``/metrics``.

No framework: a few lines over ``asyncio.start_server``, so a service can expose its probes on a
small port of its own without sharing an event loop with a web stack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Probe = Callable[[], bool]


class HealthServer:
    """Serves liveness, readiness and Prometheus metrics on ``host:port``."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        ready: Probe,
        live: Probe = lambda: True,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_detail: Callable[[], list[str]] | None = None,
    ) -> None:
        self._registry = registry
        self._ready = ready
        self._live = live
        #: Lines appended to the readiness answer (warnings that never fail readiness).
        self._ready_detail = ready_detail
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None:
            return self._port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None

    def _respond(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            ok = self._live()
            return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"unhealthy\n"
        if path == "/readyz":
            ok = self._ready()
            body = "ready\n" if ok else "not ready\n"
            if self._ready_detail is not None:
                body += "".join(f"{line}\n" for line in self._ready_detail())
            return (200 if ok else 503), "text/plain", body.encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "text/plain", b"not found\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else "/"
            status, content_type, body = self._respond(path)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
