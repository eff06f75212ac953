"""Turning Kafka records into what the store writes: decisions, catalogues, or rejections."""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson
from pydantic import ValidationError

from services.audit.canonical import NotCanonicalError
from services.audit.catalogue_keys import catalogue_key
from services.audit.records import PendingRecord, SourceCoordinates, pending_record
from services.audit.store import CatalogueVersion, Rejected
from services.common.signing import SignatureCheck

#: Longest error text kept with a rejected record (pydantic can list many errors).
_MAX_ERROR_CHARS = 4000


SIGNATURE_REJECTED = "SignatureRejected"


def decode_decision(
    value: bytes | None,
    key: bytes | None,
    source: SourceCoordinates,
    recorded_at: datetime,
    check: SignatureCheck | None = None,
) -> PendingRecord | Rejected:
    """A record ready to chain, or the rejection that keeps the original bytes.

    ``check`` is the outcome of checking the record's signature headers
    (:meth:`KeyRing.check_record`); a decision whose signature does not verify is rejected
    before it is read. The service always checks; None is for tests of decoding alone.
    """
    if value is None:
        return Rejected(source, key, None, "EmptyValue", "a decision record has no value")
    if check is not None and check.problem is not None:
        return Rejected(source, key, value, SIGNATURE_REJECTED, check.problem)
    signature = None
    if check is not None and check.key_id is not None and check.signature is not None:
        signature = (check.key_id, check.signature)
    try:
        payload = orjson.loads(value)
        if not isinstance(payload, dict):
            raise NotCanonicalError("a decision is a JSON object")
        return pending_record(payload, source, recorded_at, signature)
    except (orjson.JSONDecodeError, ValidationError, NotCanonicalError) as exc:
        return Rejected(source, key, value, type(exc).__name__, str(exc)[:_MAX_ERROR_CHARS])
    except Exception as exc:  # whatever a record holds, it is kept as rejected, never fatal
        error = f"the record could not be read: {exc!r}"
        return Rejected(source, key, value, type(exc).__name__, error[:_MAX_ERROR_CHARS])


def decode_catalogue(value: bytes | None, source: SourceCoordinates) -> CatalogueVersion | None:
    """The catalogue version in a controls.v1 record; None for tombstones.

    Keyed by :func:`~services.audit.catalogue_keys.catalogue_key`: the label the publisher
    declares with the digest the store computes (``sha256:<hex>`` of the bytes when the value
    has no version or is not JSON): a catalogue is evidence, so it is kept whatever its shape.
    """
    if value is None:
        return None
    digest = hashlib.sha256(value).digest()
    return CatalogueVersion(catalogue_key(value), value, digest, source)
