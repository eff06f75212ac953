"""Review: a person's review of a held decision, on ``reviews.v1`` (CONTRACT.md, "v1 additions").

A release takes effect when a second, different reviewer sends the same release for the same
decision; a PROHIBITED_* hold is never released by review.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from schemas._common import INPUT_MODEL_CONFIG, Description, Identifier, Name
from schemas.strict_json import loads_strict


class ReviewAction(StrEnum):
    RELEASE = "release"
    CONFIRM_HOLD = "confirm_hold"


class Reviewer(BaseModel):
    model_config = INPUT_MODEL_CONFIG

    id: Identifier
    name: Name


class Review(BaseModel):
    model_config = INPUT_MODEL_CONFIG

    review_id: Identifier
    shipment_id: Identifier
    decision_id: Identifier
    line_nos: Annotated[list[Annotated[int, Field(ge=1, le=100_000)]], Field(max_length=500)] = []
    action: ReviewAction
    justification: Description
    reviewer: Reviewer
    reviewed_at: AwareDatetime


def review_from_wire(value: bytes) -> Review:
    """A ``reviews.v1`` value read under the contract's input rules (strict JSON: duplicate keys,
    NaN and the rest refused). Raises ``ValueError`` (:class:`~schemas.strict_json.JsonInputError`
    or pydantic's ``ValidationError``): every reader of the topic sees the same reviews."""
    return Review.model_validate(loads_strict(value))
