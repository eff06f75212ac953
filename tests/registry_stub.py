"""A small Schema Registry over real HTTP, speaking the part of Confluent's REST API that
Lodestone and confluent-kafka's serializers use.

``GET /schemas/ids/{id}``, ``POST /subjects/{subject}/versions`` (register; the same schema
again keeps its id), ``POST /subjects/{subject}`` (look up), ``GET /subjects``,
``GET /subjects/{subject}/versions/latest``. Optional basic authentication, and switches a test
flips to make it fail (``unavailable``: HTTP 503) or slow (``delay_s``). Runs in a thread on a
port below 32768 (the machine's ephemeral range is left alone).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

PORTS = range(20100, 20200)
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass
class RegistryState:
    """The registry's content and the test's switches."""

    user_info: str | None = None
    schemas: dict[int, tuple[str, str]] = field(default_factory=dict)
    """id -> (schema type, schema text)"""
    subjects: dict[str, list[int]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    """``METHOD first-path-segment`` -> count (``GET schemas`` = lookups by id)."""
    unavailable: bool = False
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, subject: str, schema_type: str, text: str) -> int:
        with self.lock:
            found = [i for i, known in self.schemas.items() if known == (schema_type, text)]
            schema_id = found[0] if found else len(self.schemas) + 1
            self.schemas[schema_id] = (schema_type, text)
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", _CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refused(self) -> bool:
        expected = self.state.user_info
        if expected is None:
            return False
        sent = self.headers.get("Authorization", "")
        wanted = "Basic " + base64.b64encode(expected.encode()).decode()
        if sent == wanted:
            return False
        self._reply(401, {"error_code": 401, "message": "Unauthorized"})
        return True

    def _parts(self) -> list[str]:
        return [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/") if p]

    def _gate(self, method: str) -> list[str] | None:
        parts = self._parts()
        self.state.requests[f"{method} {parts[0] if parts else ''}"] += 1
        if self.state.delay_s:
            time.sleep(self.state.delay_s)
        if self.state.unavailable:
            self._reply(503, {"error_code": 50301, "message": "unavailable"})
            return None
        if self._refused():
            return None
        return parts

    def _schema_body(self, schema_id: int, subject: str | None = None) -> dict[str, Any]:
        schema_type, text = self.state.schemas[schema_id]
        body: dict[str, Any] = {"id": schema_id, "schema": text}
        if schema_type != "AVRO":  # the registry omits the type for Avro
            body["schemaType"] = schema_type
        if subject is not None:
            body["subject"] = subject
            body["version"] = self.state.subjects[subject].index(schema_id) + 1
        return body

    def do_GET(self) -> None:
        parts = self._gate("GET")
        if parts is None:
            return
        if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
            schema_id = int(parts[2])
            if schema_id not in self.state.schemas:
                self._reply(404, {"error_code": 40403, "message": f"Schema {schema_id} not found"})
                return
            self._reply(200, self._schema_body(schema_id))
            return
        if parts == ["subjects"]:
            self._reply(200, sorted(self.state.subjects))
            return
        if len(parts) == 4 and parts[0] == "subjects" and parts[2:] == ["versions", "latest"]:
            versions = self.state.subjects.get(parts[1])
            if not versions:
                self._reply(404, {"error_code": 40401, "message": "Subject not found"})
                return
            self._reply(200, self._schema_body(versions[-1], parts[1]))
            return
        self._reply(404, {"error_code": 404, "message": "not found"})

    def do_POST(self) -> None:
        parts = self._gate("POST")
        if parts is None:
            return
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        schema_type = request.get("schemaType") or "AVRO"
        text = request.get("schema", "")
        if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            schema_id = self.state.add(parts[1], schema_type, text)
            self._reply(200, self._schema_body(schema_id, parts[1]))
            return
        if len(parts) == 2 and parts[0] == "subjects":
            for schema_id in self.state.subjects.get(parts[1], []):
                if self.state.schemas[schema_id] == (schema_type, text):
                    self._reply(200, self._schema_body(schema_id, parts[1]))
                    return
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})
            return
        self._reply(404, {"error_code": 404, "message": "not found"})


@contextmanager
def registry_stub(user_info: str | None = None) -> Iterator[tuple[str, RegistryState]]:
    """A running registry: (its URL, its state)."""
    state = RegistryState(user_info=user_info)
    handler = type("Handler", (_Handler,), {"state": state})
    server: ThreadingHTTPServer | None = None
    for port in PORTS:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
            break
        except OSError:
            continue
    assert server is not None, f"no free port in {PORTS}"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
