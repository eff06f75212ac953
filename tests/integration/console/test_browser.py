"""The console in a real browser (headless Chromium) against the real stack.

Each page renders with real data; a person follows a hold from the queue to its decision and its
evidence pack; a viewer cannot review; releases refuse prohibitions and a second release by the
same reviewer; the keyboard reaches everything. Screenshots go to docs/console/.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from aiokafka import AIOKafkaConsumer

from schemas.review import Review
from services.audit.evidence_pack import verify_pack
from services.common.kafka_security import kafka_client_options
from services.common.signing import KeyRing
from services.screening.publish import publish_records
from tests.integration.console.conftest import SCREENSHOTS
from tests.integration.console.stack import Stack

pytestmark = pytest.mark.integration
Page = Any  # playwright.async_api.Page (imported lazily: the module may be absent)


@pytest.fixture
async def new_page(browser: Any, stack: Stack) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def open_as(user_id: str) -> Page:
        context = await browser.new_context(
            base_url=stack.base_url, viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = await context.new_page()
        await page.goto("/console/login")
        await page.fill("#user_id", user_id)
        await page.fill("#secret", stack.secret(user_id))
        await page.click("button[type=submit]")
        await page.wait_for_url("**/console/holds")
        return page

    yield open_as
    for context in contexts:
        await context.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def held_decision(page: Page, *, prohibited: bool) -> str:
    """The decision id of an open hold whose lines are (not) prohibited, from the queue."""
    await page.goto("/console/holds")
    rows = page.locator("table tbody tr")
    rows = (
        rows.filter(has_text="PROHIBITED_")
        if prohibited
        else rows.filter(has_text="LICENSE_REQUIRED").filter(has_not_text="PROHIBITED_")
    )
    assert await rows.count() > 0, f"the sample stream has such a hold ({prohibited=})"
    href = await rows.first.locator("a").first.get_attribute("href")
    return str(href).rsplit("/", 1)[-1]


async def test_a_person_follows_a_hold_from_the_queue_to_its_evidence_pack(
    stack: Stack, new_page: Any
) -> None:
    page = await new_page("aldo")
    rows = page.locator("table tbody tr")
    assert await rows.count() > 0
    await shot(page, "holds")
    first = page.locator("table tbody tr a").first
    shipment = await first.inner_text()
    await first.click()
    await page.wait_for_url("**/console/decisions/**")
    assert await page.locator("h1").inner_text() == f"Shipment {shipment} HOLD"
    reasons = await page.locator("section[aria-labelledby=reasons] tbody").inner_text()
    assert "Announcement" in reasons  # the legal basis is named
    assert "verified" in (await page.locator("#proof").inner_text()).lower()
    await shot(page, "decision")
    async with page.expect_download() as info:
        await page.click("text=Download the evidence pack")
    download = await info.value
    pack = json.loads((await download.path()).read_text())
    assert pack["shipment_id"] == shipment
    assert verify_pack(pack, KeyRing.from_files([stack.log_public_key_file])) == []


async def test_licences_catalogue_and_audit_pages_show_real_data(
    stack: Stack, new_page: Any
) -> None:
    page = await new_page("aldo")
    await page.click("nav >> text=Licences")
    table = await page.locator("table").inner_text()
    assert "MOFCOM-GL-2025-0042" in table
    assert "CN-EXP-0001" in table
    await shot(page, "licences")
    await page.click("nav >> text=Catalogue")
    measures = await page.locator("section[aria-labelledby=measures]").inner_text()
    assert "CN-2025-18" in measures
    assert "in_force" in measures
    assert await page.locator("svg.timeline rect.window").count() > 0
    await shot(page, "catalogue")
    await page.click("nav >> text=Audit")
    await page.click("button:has-text('Verify')")
    result = await page.locator("#verify-result").inner_text()
    assert result.startswith("OK"), result
    await shot(page, "verify")
    await page.fill("input[name=exporter_id]", "CN-EXP-0002")
    await page.click("button:has-text('Search')")
    rows = await page.locator("table tbody").inner_text()
    assert "CN-EXP-0002" in rows
    assert "CN-EXP-0001" not in rows
    await shot(page, "audit")


async def test_live_decisions_arrive_coloured_by_outcome(stack: Stack, new_page: Any) -> None:
    page = await new_page("vera")
    await page.click("nav >> text=Live")
    await page.wait_for_selector("text=Connected")
    event = stack.events[0].model_copy(
        update={"event_id": str(uuid.uuid4()), "shipment_id": f"SHP-LIVE-{uuid.uuid4().hex[:6]}"}
    )
    await publish_records(
        stack.settings.kafka_bootstrap,
        stack.settings.topic_shipments,
        [(event.exporter.id.encode(), event.model_dump_json().encode())],
    )
    row = page.locator(f"tr.fresh:has-text('{event.shipment_id}')")
    await row.wait_for(timeout=30_000)
    classes = await row.get_attribute("class") or ""
    assert {"approve", "hold"} & set(classes.split())
    await shot(page, "live")


async def test_a_viewer_cannot_review_nor_audit(stack: Stack, new_page: Any) -> None:
    page = await new_page("vera")
    decision_id = await held_decision(page, prohibited=False)
    await page.goto(f"/console/decisions/{decision_id}")
    assert await page.locator("form[action$=review]").count() == 0
    assert "Only a reviewer" in await page.locator("section[aria-labelledby=review]").inner_text()
    assert await page.locator("nav >> text=Audit").count() == 0
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = await page.request.post(
        f"/console/decisions/{decision_id}/review",
        form={"csrf_token": csrf or "", "line_nos": "1", "justification": "I am only a viewer"},
        headers={"Accept": "application/json"},
    )
    assert forged.status == 403
    audit = await page.goto("/console/audit")
    assert audit is not None
    assert audit.status == 403


async def test_a_release_needs_a_second_reviewer_and_never_frees_a_prohibition(
    stack: Stack, new_page: Any
) -> None:
    rita, rolf = await new_page("rita"), await new_page("rolf")
    decision_id = await held_decision(rita, prohibited=False)
    await rita.goto(f"/console/decisions/{decision_id}")
    boxes = rita.locator("form[action$=review] input[name=line_nos]:not([disabled])")
    assert await boxes.count() > 0
    await boxes.first.check()
    await rita.fill("#justification", "licence MOFCOM-GL-2025-0042 covers it; see file 17")
    await shot(rita, "review")
    await rita.click("button:has-text('Release')")
    await rita.wait_for_url(f"**/console/decisions/{decision_id}")
    assert "by Rita Reviewer (rita)" in await rita.locator("#main").inner_text()

    csrf = await rita.locator("form[action$=review] input[name=csrf_token]").get_attribute("value")
    again = await rita.request.post(
        f"/console/decisions/{decision_id}/review",
        form={"csrf_token": csrf or "", "line_nos": "1", "justification": "once more, myself"},
        headers={"Accept": "application/json"},
    )
    assert again.status == 409
    assert "different reviewer" in await again.text()

    await rolf.goto(f"/console/decisions/{decision_id}")
    await rolf.locator("form[action$=review] input[name=line_nos]:not([disabled])").first.check()
    await rolf.fill("#justification", "confirmed: the licence covers the line")
    await rolf.click("button:has-text('Release')")
    await rolf.wait_for_url(f"**/console/decisions/{decision_id}")
    reviews = await _reviews(stack, decision_id, expected=2)
    assert {r.reviewer.id for r in reviews} == {"rita", "rolf"}

    # screening decides the shipment again (trigger review), audit records it with both names
    released = await _superseding(stack, decision_id)
    assert released is not None
    assert released["trigger"] == "review"
    releases = [r for r in released["decision"]["reasons"] if r["code"] == "RELEASED_BY_REVIEW"]
    assert releases
    assert all("Rita Reviewer (rita)" in r["message"] for r in releases)
    assert all("Rolf Reviewer (rolf)" in r["message"] for r in releases)
    await rolf.goto(f"/console/decisions/{decision_id}")
    await rolf.click("text=Superseded by")
    await rolf.click(f"a[href='/console/decisions/{released['decision_id']}']")
    assert "RELEASED_BY_REVIEW" in await rolf.locator("#main").inner_text()
    await shot(rolf, "released")
    recorded = await _review_records(stack, decision_id, expected=2)
    assert {(r["reviewer_id"], r["reviewer_name"]) for r in recorded} == {
        ("rita", "Rita Reviewer"),
        ("rolf", "Rolf Reviewer"),
    }

    prohibited = await held_decision(rolf, prohibited=True)
    await rolf.goto(f"/console/decisions/{prohibited}")
    section = await rolf.locator("section[aria-labelledby=review]").inner_text()
    assert "prohibit" in section
    csrf = await rolf.locator("input[name=csrf_token]").first.get_attribute("value")
    lines = await rolf.locator("section[aria-labelledby=lines] tbody tr").count()
    forced = await rolf.request.post(
        f"/console/decisions/{prohibited}/review",
        data=urlencode(
            [("csrf_token", csrf or ""), ("justification", "trying to free a prohibited line")]
            + [("line_nos", str(n)) for n in range(1, lines + 1)]
        ),
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert forced.status == 409
    assert await _reviews(stack, prohibited, expected=0, wait_s=2) == []
    # even two reviewers straight on the topic never release a prohibited line
    for reviewer in ("rita", "rolf"):
        forged = Review.model_validate(
            {
                "review_id": str(uuid.uuid4()),
                "shipment_id": await _shipment_of(stack, prohibited),
                "decision_id": prohibited,
                "line_nos": list(range(1, lines + 1)),
                "action": "release",
                "justification": "straight onto the topic",
                "reviewer": {"id": reviewer, "name": reviewer},
                "reviewed_at": datetime.now(UTC),
            }
        )
        await publish_records(
            stack.settings.kafka_bootstrap,
            stack.settings.topic_reviews,
            [(forged.shipment_id.encode(), forged.model_dump_json().encode())],
        )
    forged_records = await _review_records(stack, prohibited, expected=2)
    assert {r["justification"] for r in forged_records} == {"straight onto the topic"}
    after = await _superseding(stack, prohibited, wait_s=8, required=False)
    if after is not None:  # other lines may be released; the prohibited ones never
        for line in after["decision"]["lines"]:
            if any(code.startswith("PROHIBITED_") for code in line["reasons"]):
                assert line["outcome"] == "hold"
        assert after["outcome"] == "hold"


async def _review_records(stack: Stack, decision_id: str, expected: int) -> list[Any]:
    """The reviews of ``decision_id`` the audit service recorded (waits for ``expected``)."""
    conn = await stack.db.connect("auditor")
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = await conn.fetch(
                "SELECT reviewer_id, reviewer_name, justification, line_nos"
                " FROM audit.review_records_v WHERE decision_id = $1",
                decision_id,
            )
            if len(rows) >= expected or time.monotonic() > deadline:
                return list(rows)
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


async def _shipment_of(stack: Stack, decision_id: str) -> str:
    conn = await stack.db.connect("auditor")
    try:
        return str(
            await conn.fetchval(
                "SELECT shipment_id FROM audit.decisions_v WHERE decision_id = $1", decision_id
            )
        )
    finally:
        await conn.close()


async def _superseding(
    stack: Stack, decision_id: str, wait_s: float = 30, required: bool = True
) -> dict[str, Any] | None:
    """The recorded decision that supersedes ``decision_id`` (waits for it)."""
    conn = await stack.db.connect("auditor")
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            row = await conn.fetchrow(
                "SELECT decision_id, trigger, outcome, decision::text AS decision"
                " FROM audit.decisions_v WHERE supersedes = $1",
                decision_id,
            )
            if row is not None:
                found = dict(row)
                found["decision"] = json.loads(found["decision"])
                return found
            await asyncio.sleep(0.3)
    finally:
        await conn.close()
    assert not required, f"no decision superseding {decision_id} was recorded"
    return None


async def _reviews(
    stack: Stack, decision_id: str, expected: int, wait_s: float = 20
) -> list[Review]:
    consumer = AIOKafkaConsumer(
        stack.settings.topic_reviews,
        bootstrap_servers=stack.settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    found: list[Review] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and len(found) < expected:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    review = Review.model_validate_json(record.value)
                    if review.decision_id == decision_id:
                        found.append(review)
        if expected == 0:
            await consumer.getmany(timeout_ms=int(wait_s * 1000))
    finally:
        await consumer.stop()
    return found


async def test_the_keyboard_reaches_every_page_and_the_decisions(
    stack: Stack, new_page: Any
) -> None:
    page = await new_page("vera")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    visited = []
    for name in ("Holds", "Live", "Licences", "Catalogue"):
        await page.goto("/console/holds")
        for _ in range(12):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.textContent") == name:
                break
        else:
            raise AssertionError(f"Tab never reached {name}")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        visited.append(page.url.rsplit("/", 1)[-1])
    assert visited == ["holds", "live", "licences", "catalogue"]
    await page.goto("/console/holds")
    await page.focus("table tbody tr a")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/decisions/**")
