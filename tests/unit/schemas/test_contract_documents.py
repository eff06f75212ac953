"""The published contract documents are current: the AsyncAPI document and the examples are
what the code generates today, and each example is read back by the code it documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from schemas import (
    ControlledParty,
    DeadLetter,
    Decision,
    License,
    Review,
    ShipmentEvent,
    SignedTreeHead,
)
from schemas.strict_json import loads_strict
from services.asyncapi import ASYNCAPI_FILE, TOPICS, render
from services.contract_examples import EXAMPLES_DIR, build_examples
from services.contract_examples import render as render_example


def test_the_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI_FILE.read_text(encoding="utf-8") == render(), (
        "schemas/asyncapi.yaml is stale: run `python -m services.asyncapi`"
    )


def test_the_asyncapi_document_has_a_channel_and_operation_per_topic_of_the_contract() -> None:
    document = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert document["asyncapi"] == "3.0.0"
    contract_topics = {
        "shipments.v1",
        "licenses.v1",
        "controls.v1",
        "decisions.v1",
        "shipments.v1.dlq",
        "parties.v1",
        "reviews.v1",
        "decisions.shadow.v1",
        "audit.anchors.v1",
    }
    assert contract_topics <= set(document["channels"])
    assert contract_topics <= set(TOPICS)
    actions = {
        op["channel"]["$ref"].rsplit("/", 1)[-1]: op["action"]
        for op in document["operations"].values()
    }
    assert actions["shipments.v1"] == "receive"
    assert actions["decisions.v1"] == "send"
    for message in document["components"]["messages"].values():
        assert message["payload"]["$ref"].startswith("#/components/schemas/")
        assert message["bindings"]["kafka"]["key"]["description"]


@pytest.mark.parametrize("name", sorted(build_examples()))
def test_the_committed_examples_are_current(name: str) -> None:
    path = EXAMPLES_DIR / name
    assert path.read_text(encoding="utf-8") == render_example(build_examples()[name]), (
        f"{path} is stale: run `python -m services.contract_examples`"
    )


_MODELS: dict[str, type[BaseModel]] = {
    "shipment-event": ShipmentEvent,
    "license": License,
    "decision": Decision,
    "dead-letter": DeadLetter,
    "controlled-party": ControlledParty,
    "review": Review,
    "signed-tree-head": SignedTreeHead,
}


@pytest.mark.parametrize("path", sorted(EXAMPLES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_each_example_is_read_by_the_model_it_documents(path: Path) -> None:
    model = _MODELS[path.name.split(".")[0]]
    raw = loads_strict(path.read_bytes())
    assert json.loads(model.model_validate(raw).model_dump_json(by_alias=True)) == raw
