"""``lodestone tail``: decisions as they are emitted, coloured by outcome, with reasons and law.

Only decisions signed by a trusted key are shown as decisions. Any other record on the topic
(unsigned, signed by an unknown key, altered after signing, not a decision) is shown as one
line saying where it is and what is wrong with it, whatever the filters: an operator must see
that someone wrote to the decisions topic, and never take that record for a decision.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.text import Text

from schemas import Decision, Outcome
from services.common.decision_records import signed_decision
from services.common.kafka_security import kafka_client_options
from services.common.signing import KeyRing

_STYLE = {Outcome.APPROVE: "bold green", Outcome.HOLD: "bold red"}


def render(decision: Decision) -> Text:
    """One decision as a few coloured lines."""
    text = Text()
    text.append(f"{decision.outcome.value.upper():7}", style=_STYLE[decision.outcome])
    text.append(f" {decision.shipment_id}", style="bold")
    text.append(f"  exporter {decision.exporter_id}  trigger {decision.trigger.value}", style="dim")
    if decision.supersedes:
        text.append(f"  supersedes {decision.supersedes[:8]}", style="yellow")
    text.append(f"  {decision.decided_at:%H:%M:%S}", style="dim")
    for line in decision.lines:
        licence = f" licence {line.license_id}" if line.license_id else ""
        codes = ", ".join(code.value for code in line.reasons)
        text.append(f"\n    line {line.line_no}: {line.outcome.value} [{codes}]{licence}")
    for reason in decision.reasons:
        if reason.code.outcome is Outcome.HOLD or reason.legal_basis:
            basis = f" — {reason.legal_basis}" if reason.legal_basis else ""
            style = "red" if reason.code.outcome is Outcome.HOLD else "green"
            text.append(f"\n      {reason.code.value}: {reason.message}{basis}", style=style)
    return text


def render_unverified(partition: int, offset: int, problem: str) -> Text:
    """A record that is not a signed decision: where it is and why, never what it claims."""
    text = Text()
    text.append("NOT A SIGNED DECISION", style="bold reverse red")
    text.append(f"  partition {partition} offset {offset}: {problem}", style="red")
    return text


def matches(decision: Decision, exporter: str | None, outcome: str | None) -> bool:
    return (exporter is None or decision.exporter_id == exporter) and (
        outcome is None or decision.outcome.value == outcome
    )


async def tail(
    *,
    bootstrap: str,
    topic: str,
    keys: KeyRing,
    exporter: str | None = None,
    outcome: str | None = None,
    from_beginning: bool = False,
    seconds: float | None = None,
    console: Console | None = None,
) -> int:
    """Print decisions until interrupted (or for ``seconds``); returns how many were shown."""
    console = console or Console()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"lodestone-tail-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **kafka_client_options(),
    )
    await consumer.start()
    shown = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    decision = signed_decision(keys, record.value, record.headers)
                    if isinstance(decision, str):
                        console.print(render_unverified(record.partition, record.offset, decision))
                        continue
                    if matches(decision, exporter, outcome):
                        console.print(render(decision))
                        shown += 1
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()
    return shown
