"""The probe server answers /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter

from services.common.health import HealthServer


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_probes_and_metrics() -> None:
    registry = CollectorRegistry()
    Counter("demo_things", "Things.", registry=registry).inc()
    ready = False
    server = HealthServer(registry=registry, ready=lambda: ready, port=0)
    await server.start()
    try:
        assert (await _get(server.port, "/healthz"))[0] == 200
        assert (await _get(server.port, "/readyz"))[0] == 503
        ready = True
        assert (await _get(server.port, "/readyz"))[0] == 200
        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert "demo_things_total 1.0" in body
        assert (await _get(server.port, "/nope"))[0] == 404
    finally:
        await server.stop()
