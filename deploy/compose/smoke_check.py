"""Traffic and checks of ``make compose-smoke``, run from the host against a running stack.

Publishes the bundled catalogue, the sample licences and a stream of sample shipment events to
the stack's Kafka, then waits until every event has a decision in the audit store, and checks:

* every recorded decision carries the signature of the stack's decision key, and nothing was
  rejected (the screening service signs, the audit service verifies with the public key);
* the audit API: probes open, data behind the token, the chain head it reports at least the
  store's, and the signed tree head it serves verifies with the audit log's public key and
  covers every record;
* ``audit.anchors.v1`` carries signed tree heads, the newest covering every record;
* the console: probes open and following both topics, pages only behind a session, this run's
  holds listed, and a reviewer's release published to ``reviews.v1``.

The chain itself is verified inside the stack (``lodestone audit verify`` in the API container).
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from services.audit.tree_head import SignedTreeHead, TreeHeadError
from services.common.kafka_security import kafka_client_options
from services.common.signing import KeyRing
from services.screening.catalogue.loading import load_bundled_catalogue
from services.screening.publish import publish_catalogue, publish_licences, publish_records
from services.screening.sample_stream import generate_events, sample_licences


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 (a fixed http URL of the stack)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def _wait_for_decisions(dsn: str, event_ids: set[str], timeout_s: float) -> int:
    """Wait until every event id has a recorded decision; returns the chain head's seq."""
    deadline = time.monotonic() + timeout_s
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            rows = await conn.fetch(
                "SELECT DISTINCT event_id FROM audit.decisions_v WHERE event_id = ANY($1::text[])",
                sorted(event_ids),
            )
            missing = event_ids - {row["event_id"] for row in rows}
            if not missing:
                head: int = await conn.fetchval(
                    "SELECT coalesce(max(seq), 0) FROM audit.decisions_v"
                )
                return head
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{len(missing)} of {len(event_ids)} events have no audited decision "
                    f"after {timeout_s:.0f} s, e.g. {sorted(missing)[:3]}"
                )
            await asyncio.sleep(1)
    finally:
        await conn.close()


async def _check_signatures(dsn: str, event_ids: set[str], decision_keys: KeyRing) -> None:
    """Every decision of the run is signed by the stack's decision key; nothing was rejected."""
    conn = await asyncpg.connect(dsn)
    try:
        keys = await conn.fetch(
            "SELECT signature_key_id, count(*) AS n FROM audit.decisions_v "
            "WHERE event_id = ANY($1::text[]) GROUP BY signature_key_id",
            sorted(event_ids),
        )
        rejected = await conn.fetchval("SELECT count(*) FROM audit.rejected_records_v")
    finally:
        await conn.close()
    by_key = {row["signature_key_id"]: row["n"] for row in keys}
    if set(by_key) != set(decision_keys.key_ids):
        raise SystemExit(f"decisions by signing key {by_key}, expected {decision_keys.key_ids}")
    if rejected:
        raise SystemExit(f"{rejected} decision(s) rejected by the audit service")
    print(f"every decision signed by {decision_keys.key_ids[0]}; none rejected")


def _checked_head(source: str, data: bytes | str, log_keys: KeyRing, size: int) -> SignedTreeHead:
    try:
        head = SignedTreeHead.from_json(data)
    except TreeHeadError as exc:
        raise SystemExit(f"{source}: not a signed tree head ({exc})") from exc
    problem = head.problem(log_keys)
    if problem is not None:
        raise SystemExit(f"{source}: {problem}")
    if head.tree_size < size:
        raise SystemExit(f"{source}: tree size {head.tree_size}, the store holds {size} records")
    return head


async def _values(bootstrap: str, topic: str, timeout_s: float = 30) -> list[bytes]:
    """Every value on ``topic`` from its beginning, read until a poll brings nothing new (in
    order only within a partition)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            records = [r for batch in batches.values() for r in batch]
            if records:
                values += [r.value for r in records if r.value is not None]
            elif values:
                return values
        return values
    finally:
        await consumer.stop()


async def _wait_for_group(bootstrap: str, group: str, members: int, timeout_s: float = 90) -> int:
    """Wait until ``group`` is stable with ``members`` members that each hold partitions, so that
    the traffic published next is shared (an instance still joining would see none of it);
    returns the members found when the wait ends."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options())
    await admin.start()
    found = 0
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            (response,) = await admin.describe_consumer_groups([group])
            # (error_code, group_id, state, protocol_type, protocol, members[...]), each member
            # (member_id, client_id, client_host, metadata, assignment)
            _error, _group, state, *_rest, listed = response.groups[0][:6]
            found = sum(1 for member in listed if member[-1])
            if state == "Stable" and found >= members:
                return found
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    return found


async def run(args: argparse.Namespace) -> None:
    bootstrap = args.bootstrap
    assigned = await _wait_for_group(bootstrap, "lodestone-screening", args.screening_instances)
    print(f"screening group: {assigned} instance(s) holding partitions")
    catalogue = load_bundled_catalogue()
    await publish_catalogue(bootstrap, "controls.v1", catalogue)
    await publish_licences(bootstrap, "licenses.v1", sample_licences())
    run_id = uuid.uuid4().hex[:8].upper()
    events = generate_events(args.events, seed=int(run_id, 16), shipment_prefix=f"SMK-{run_id}")
    started = time.monotonic()
    await publish_records(
        bootstrap,
        "shipments.v1",
        [(e.exporter.id.encode(), e.model_dump_json().encode()) for e in events],
    )
    event_ids = {e.event_id for e in events}
    stored_head = await _wait_for_decisions(args.auditor_dsn, event_ids, args.timeout)
    took = time.monotonic() - started
    print(
        f"{len(events)} events published ({len(event_ids)} distinct), every one decided and "
        f"audited in {took:.1f} s; audit chain head at seq {stored_head}"
    )

    api, token = args.api.rstrip("/"), os.environ["LODESTONE_AUDIT_API_TOKENS"].split(",")[0]
    for path in ("/healthz", "/readyz"):
        status, _ = await asyncio.to_thread(_get, api + path)
        if status != 200:
            raise SystemExit(f"audit API {path} answered {status}")
    status, _ = await asyncio.to_thread(_get, api + "/v1/chain/head")
    if status != 401:
        raise SystemExit(f"audit API answered {status} to a request without a token")
    status, body = await asyncio.to_thread(_get, api + "/v1/chain/head", token)
    if status != 200:
        raise SystemExit(f"audit API answered {status} with the token")
    head = json.loads(body)
    if head["seq"] < stored_head:
        raise SystemExit(f"audit API chain head at seq {head['seq']}, the store's at {stored_head}")
    print(f"audit API: probes open, data behind the token, chain head at seq {head['seq']}")

    await _check_signatures(args.auditor_dsn, event_ids, KeyRing.from_files([args.decision_key]))
    log_keys = KeyRing.from_files([args.log_key])
    status, body = await asyncio.to_thread(_get, api + "/v1/tree/head", token)
    if status != 200:
        raise SystemExit(f"audit API answered {status} for the signed tree head")
    served = _checked_head("API /v1/tree/head", body, log_keys, stored_head)
    anchored = await _values(args.bootstrap, args.anchors_topic)  # one partition: in order
    if not anchored:
        raise SystemExit(f"no signed tree head on {args.anchors_topic}")
    newest = _checked_head(args.anchors_topic, anchored[-1], log_keys, stored_head)
    print(
        f"signed tree heads verify with {log_keys.key_ids[0]}: the API's at size "
        f"{served.tree_size}, {args.anchors_topic}'s newest at size {newest.tree_size}"
    )
    await _check_console(args, run_id)


def _console_client() -> urllib.request.OpenerDirector:
    """A browser of sorts: keeps the session cookie, does not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
    )


def _call(
    opener: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(  # noqa: S310 (the stack's own URL)
        url, data=data, headers={"Accept": "text/html"}
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


async def _check_console(args: argparse.Namespace, run_id: str) -> None:
    """Probes, sign-in, the holds of this run, and a reviewer's release reaching reviews.v1."""
    console = args.console.rstrip("/")
    status, ready, _ = await asyncio.to_thread(_call, _console_client(), console + "/readyz")
    if status != 200 or ready.count("following") != 2:
        raise SystemExit(f"console /readyz answered {status}: {ready!r}")
    browser = _console_client()
    status, _, headers = await asyncio.to_thread(_call, browser, console + "/console/holds")
    if status != 303 or headers.get("location") != "/console/login":
        raise SystemExit(f"the console answered {status} to a request without a session")
    credentials = {"user_id": args.console_user, "secret": os.environ["LODESTONE_SMOKE_SECRET"]}
    status, _, _ = await asyncio.to_thread(_call, browser, console + "/console/login", credentials)
    if status != 303:
        raise SystemExit(f"signing in to the console answered {status}")
    status, holds, _ = await asyncio.to_thread(_call, browser, console + "/console/holds")
    held = re.findall(r'href="/console/decisions/([^"]+)"[^<]*>SMK-' + run_id, holds)
    if status != 200 or not held:
        raise SystemExit(f"the console's holds ({status}) list none of this run's shipments")
    for decision_id in held:  # the first with a line a reviewer may release
        page_url = f"{console}/console/decisions/{decision_id}"
        _, page, _ = await asyncio.to_thread(_call, browser, page_url)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        line = re.search(r'name="line_nos" value="(\d+)" >', page)
        if token is not None and line is not None:
            break
    else:
        raise SystemExit("none of this run's holds has a line a reviewer may release")
    form = {
        "csrf_token": token.group(1),
        "line_nos": line.group(1),
        "justification": "compose smoke test: a reviewer's release",
    }
    status, body, _ = await asyncio.to_thread(_call, browser, page_url + "/review", form)
    if status != 303:
        raise SystemExit(f"the console refused the release ({status}): {body[:300]}")
    reviews = await _values(args.bootstrap, "reviews.v1")
    if not any(decision_id in review.decode() for review in reviews):
        raise SystemExit("the reviewer's release did not reach reviews.v1")
    print(
        f"console: probes open and following both topics, pages behind a session, "
        f"{len(set(held))} of this run's holds listed, a release published to reviews.v1"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:17092")
    parser.add_argument("--auditor-dsn", required=True)
    parser.add_argument("--api", default="http://127.0.0.1:17102")
    parser.add_argument("--decision-key", type=Path, required=True, help="decision public key")
    parser.add_argument("--log-key", type=Path, required=True, help="audit log public key")
    parser.add_argument("--anchors-topic", default="audit.anchors.v1")
    parser.add_argument("--console", default="http://127.0.0.1:17103")
    parser.add_argument(
        "--console-user", default="smoke", help="a reviewer; LODESTONE_SMOKE_SECRET is its secret"
    )
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument(
        "--screening-instances", type=int, default=2, help="wait until this many share the work"
    )
    try:
        asyncio.run(run(parser.parse_args()))
    except SystemExit as failure:
        print(f"compose smoke test FAILED: {failure}", file=sys.stderr)
        raise


if __name__ == "__main__":
    main()
