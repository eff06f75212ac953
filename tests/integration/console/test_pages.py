"""The console over HTTP on the real stack: sign-in, roles, CSRF, headers, hostile input."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.console.stack import Stack

pytestmark = pytest.mark.integration
HTML = {"Accept": "text/html"}
HOSTILE = ["' OR 1=1 --", "x'; DROP TABLE audit.decision_records; --", "%", "<script>x</script>"]


async def signed_in(stack: Stack, user_id: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=stack.base_url, headers=HTML, timeout=30)
    response = await client.post(
        "/console/login", data={"user_id": user_id, "secret": stack.secret(user_id)}
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
async def viewer(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(stack, "vera")
    yield client
    await client.aclose()


@pytest.fixture
async def reviewer(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(stack, "rita")
    yield client
    await client.aclose()


async def _a_hold(client: httpx.AsyncClient) -> str:
    holds = await client.get("/console/holds?reason=LICENSE_REQUIRED")
    links = re.findall(r'href="/console/decisions/([^"]+)"', holds.text)
    assert links, "the sample stream holds shipments for a licence"
    return str(links[0])


async def test_every_page_renders_real_data(stack: Stack, viewer: httpx.AsyncClient) -> None:
    decision_id = await _a_hold(viewer)
    page = await viewer.get(f"/console/decisions/{decision_id}")
    assert page.status_code == 200
    assert "LICENSE_REQUIRED" in page.text
    assert "MOFCOM/GAC Announcement" in page.text  # the legal basis
    assert "signature checked" in page.text  # the proof was checked against the signed head
    for path, expected in (
        ("/console/licences", "MOFCOM-SL-2026-0007"),
        ("/console/catalogue?on=2026-12-01", "CN-2025-18"),
        ("/console/live", stack.events[0].shipment_id[:12]),
    ):
        response = await viewer.get(path)
        assert response.status_code == 200, path
        assert expected in response.text, path


async def test_without_a_valid_identity_nothing_is_shown(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        page = await anonymous.get("/console/holds", headers=HTML)
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login"
        assert (await anonymous.get("/console/licences")).status_code == 401
        for user_id, secret in (("vera", "wrong"), ("nobody", "vera-secret-0001"), ("vera", "")):
            refused = await anonymous.post(
                "/console/login", data={"user_id": user_id, "secret": secret}, headers=HTML
            )
            assert refused.status_code in (401, 422), (user_id, secret)
            assert "set-cookie" not in refused.headers
        for header in ("Bearer vera:wrong", "Bearer vera", f"Basic vera:{stack.secret('vera')}"):
            page = await anonymous.get("/console/holds", headers={"Authorization": header})
            assert page.status_code == 401, header


async def test_bearer_tokens_carry_their_role(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        auditor = {"Authorization": f"Bearer aldo:{stack.secret('aldo')}"}
        viewer = {"Authorization": f"Bearer vera:{stack.secret('vera')}"}
        assert (await client.get("/console/audit", headers=auditor)).status_code == 200
        assert (await client.get("/console/audit", headers=viewer)).status_code == 403
        shipment = stack.events[0].shipment_id
        pack = await client.get(f"/console/audit/packs/{shipment}", headers=viewer)
        assert pack.status_code == 403
        check = await client.get(f"/console/audit/packs/{shipment}/check", headers=auditor)
        assert check.status_code == 200
        assert check.json()["problems"] == []


async def test_the_session_cookie_cannot_be_read_by_scripts_nor_sent_cross_site(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        response = await client.post(
            "/console/login", data={"user_id": "vera", "secret": stack.secret("vera")}
        )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie


async def test_forms_need_the_session_csrf_token_and_the_same_origin(
    stack: Stack, reviewer: httpx.AsyncClient
) -> None:
    decision_id = await _a_hold(reviewer)
    page = await reviewer.get(f"/console/decisions/{decision_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"line_nos": "1", "justification": "forged release attempt"}
    for data, headers in (
        (form, {}),
        (form | {"csrf_token": "not-the-token"}, {}),
        (form | {"csrf_token": token.group(1)}, {"Origin": "http://evil.example"}),
        (form | {"csrf_token": token.group(1)}, {"Origin": "null"}),
    ):
        response = await reviewer.post(
            f"/console/decisions/{decision_id}/review", data=data, headers=headers
        )
        assert response.status_code == 403, (data, headers)
    logout = await reviewer.post("/console/logout", data={"csrf_token": "wrong"})
    assert logout.status_code == 403
    assert (await reviewer.get("/console/holds")).status_code == 200  # still signed in


async def test_signing_out_ends_the_session(stack: Stack) -> None:
    client = await signed_in(stack, "vera")
    try:
        page = await client.get("/console/holds")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        cookie = client.cookies.get("lodestone_console")
        out = await client.post("/console/logout", data={"csrf_token": token.group(1)})
        assert out.status_code == 303
        client.cookies.set("lodestone_console", cookie or "", path="/console")
        assert (await client.get("/console/holds")).status_code == 303  # back to sign-in
    finally:
        await client.aclose()


async def test_every_asset_comes_from_the_console_itself(
    stack: Stack, viewer: httpx.AsyncClient
) -> None:
    for path in ("/console/holds", "/console/live", "/console/catalogue", "/console/licences"):
        page = await viewer.get(path)
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert url.startswith(("/console/", "#")), (path, url)
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page.text):
            assert (await viewer.get(asset)).status_code == 200, asset


async def test_hostile_filters_are_values_never_sql_nor_markup(
    stack: Stack, viewer: httpx.AsyncClient
) -> None:
    auditor = await signed_in(stack, "aldo")
    try:
        for value in HOSTILE:
            holds = await viewer.get("/console/holds", params={"exporter": value, "reason": value})
            assert holds.status_code == 200
            assert "No open hold matches." in holds.text
            assert "<script>x</script>" not in holds.text
            audit = await auditor.get(
                "/console/audit", params={"shipment_id": value, "license_id": value}
            )
            assert audit.status_code == 200
            assert "No recorded decision matches." in audit.text
            missing = await viewer.get(f"/console/decisions/{value}")
            assert missing.status_code == 404
    finally:
        await auditor.aclose()
    full = await viewer.get("/console/holds")
    assert "No open hold matches." not in full.text  # the table is still there


async def test_a_decision_with_a_warning_shows_it(stack: Stack, viewer: httpx.AsyncClient) -> None:
    conn = await stack.db.connect("auditor")
    try:
        decision_id = await conn.fetchval(
            "SELECT decision_id FROM audit.decisions_v"
            " WHERE jsonb_array_length(decision->'warnings') > 0 LIMIT 1"
        )
    finally:
        await conn.close()
    assert decision_id is not None, "the sample stream has a decision with a warning"
    page = await viewer.get(f"/console/decisions/{decision_id}")
    warnings = page.text.split('id="warnings"', 1)[1].split("</section>", 1)[0]
    assert "MEASURE_STATUS_UNCONFIRMED" in warnings


async def test_the_holds_filters_narrow_the_queue(stack: Stack, viewer: httpx.AsyncClient) -> None:
    def rows(html: str) -> list[str]:
        return re.findall(r"<tr>\s*<td><a href=\"/console/decisions/[^\"]+\">.*?</tr>", html, re.S)

    everything = rows((await viewer.get("/console/holds")).text)
    assert len(everything) > 3
    by_exporter = rows((await viewer.get("/console/holds?exporter=CN-EXP-0002")).text)
    assert 0 < len(by_exporter) < len(everything)
    assert all("<td>CN-EXP-0002</td>" in row for row in by_exporter)
    by_reason = rows((await viewer.get("/console/holds?reason=LICENSE_REQUIRED")).text)
    assert 0 < len(by_reason) < len(everything)
    assert all("LICENSE_REQUIRED" in row for row in by_reason)
    by_measure = rows((await viewer.get("/console/holds?measure=CN-2025-18")).text)
    assert 0 < len(by_measure) < len(everything)
    assert all("CN-2025-18/" in row for row in by_measure)
    assert rows((await viewer.get("/console/holds?measure=CN-2025-1")).text) == []  # a prefix
    facets = (await viewer.get("/console/holds")).text.split('name="measure"', 1)[1]
    facets = facets.split("</select>", 1)[0]
    assert ">CN-2025-18</option>" in facets
    assert ">CN-2024-46/Art.2</option>" in facets  # measure ids may hold a "/"
    assert ">CN-2024-46</option>" not in facets
    assert rows((await viewer.get("/console/holds?older_than_hours=1000")).text) == []
    assert len(rows((await viewer.get("/console/holds?older_than_hours=0")).text)) == len(
        everything
    )
    assert "SHIPMENT_CANCELLED" not in "".join(everything)  # a cancellation waits for nobody


async def test_a_hold_has_waited_since_its_first_hold_not_its_latest_decision(
    stack: Stack, viewer: httpx.AsyncClient
) -> None:
    conn = await stack.db.connect("auditor")
    try:
        row = await conn.fetchrow(
            "SELECT shipment_id, min(decided_at) AS first, max(decided_at) AS last"
            " FROM audit.decisions_v GROUP BY shipment_id"
            " HAVING count(*) > 1 AND bool_and(outcome = 'hold')"
            " AND NOT bool_or(reason_codes @> ARRAY['SHIPMENT_CANCELLED']) LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None, "the sample stream amends a held shipment"
    assert row["first"] < row["last"]
    page = (await viewer.get("/console/holds")).text
    listed = page.split(f">{row['shipment_id']}</a>", 1)[1].split("</tr>", 1)[0]
    assert f'datetime="{row["first"].isoformat()}"' in listed


async def test_a_justification_on_several_lines_is_sent_and_control_characters_refused(
    stack: Stack, reviewer: httpx.AsyncClient
) -> None:
    decision_id = await _a_hold(reviewer)
    page = await reviewer.get(f"/console/decisions/{decision_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    line = re.search(r'name="line_nos" value="(\d+)" >', page.text)
    assert token is not None
    assert line is not None
    form = {"csrf_token": token.group(1), "line_nos": line.group(1)}
    refused = await reviewer.post(
        f"/console/decisions/{decision_id}/review",
        data=form | {"justification": "licence on file\x07 rings a bell"},
    )
    assert refused.status_code == 409
    assert "cannot be sent" in refused.text
    sent = await reviewer.post(
        f"/console/decisions/{decision_id}/review",
        data=form | {"justification": "licence on file\r\nsee the\tscan"},
    )
    assert sent.status_code == 303
    shown = await reviewer.get(f"/console/decisions/{decision_id}")
    assert "licence on file see the scan" in shown.text


PUBLIC = {"/healthz", "/readyz", "/metrics", "/console/login"}


async def test_every_route_but_the_probes_and_sign_in_needs_an_identity(stack: Stack) -> None:
    """Walks the console's own route table, so a route added later is covered too."""
    from fastapi.routing import APIRoute

    from services.common.signing import KeyRing
    from services.console.app import ConsoleOptions, create_console

    app = create_console(
        ConsoleOptions(
            auditor_dsn="postgresql://nobody@127.0.0.1:9/none", users=[], kafka_bootstrap="x:9",
            topic_decisions="d", topic_reviews="r", checkpoint_file=stack.log_public_key_file,
            decision_keys=KeyRing(),
        )
    )  # fmt: skip
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) > 10
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in route.methods or ():
                answer = await anonymous.request(method, path, headers=HTML)
                if route.path in PUBLIC:
                    assert answer.status_code < 500, (method, path)
                    continue
                if answer.status_code == 303 and answer.headers["location"] == "/console/holds":
                    answer = await anonymous.get("/console/holds", headers=HTML)  # the home page
                assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
                assert answer.status_code != 303 or answer.headers["location"] == "/console/login"


async def test_the_probes_and_metrics_answer_without_revealing_decisions(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        assert (await anonymous.get("/healthz")).text == "ok\n"
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200
        assert ready.text.splitlines() == [
            "ready",
            "live decisions: following",
            "reviews: following",
        ]
        before = await anonymous.get("/metrics")
        await anonymous.post("/console/login", data={"user_id": "vera", "secret": "wrong"})
        after = await anonymous.get("/metrics")
    for text in (before.text, after.text):
        assert 'lodestone_console_following{topic="decisions"} 1.0' in text
        assert 'lodestone_console_following{topic="reviews"} 1.0' in text
        assert stack.events[0].shipment_id not in text
        assert stack.events[0].exporter.id not in text

    def refused(text: str) -> float:
        found = re.search(r'lodestone_console_sign_ins_total\{result="refused"\} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    assert refused(after.text) == refused(before.text) + 1
