"""DeadLetter: a rejected input, with its original bytes, on ``shipments.v1.dlq``."""

from __future__ import annotations

import base64

from pydantic import AwareDatetime, BaseModel

from schemas._common import OUTPUT_MODEL_CONFIG


class SourceCoordinates(BaseModel):
    """Where the rejected record was read from."""

    model_config = OUTPUT_MODEL_CONFIG

    topic: str
    partition: int
    offset: int
    #: The original key decoded as UTF-8 (``None`` for no key); undecodable keys are base64 here
    #: and flagged by ``key_base64``.
    key: str | None = None
    key_base64: bool = False


class DeadLetter(BaseModel):
    """Enough to understand, fix and replay a rejected record."""

    model_config = OUTPUT_MODEL_CONFIG

    error: str
    error_type: str
    source: SourceCoordinates
    #: The original value, base64-encoded; ``None`` for a tombstone (null value).
    payload_base64: str | None
    failed_at: AwareDatetime

    def original_payload(self) -> bytes | None:
        """The original value bytes, for replay."""
        return None if self.payload_base64 is None else base64.b64decode(self.payload_base64)
