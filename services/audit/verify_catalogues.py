"""Verify's check of the control catalogues, which are evidence but not leaves of the tree.

A decision names the catalogue it was taken under (``catalogue_version``, with the digest of the
catalogue's content) and that name is covered by the decision's signature and the record's
hash. The store keeps each catalogue under the key it computes from the content
(:mod:`services.audit.catalogue_keys`). So:

* a stored catalogue whose content no longer hashes to its key, or to its ``content_sha256``,
  was altered: the store is broken;
* a catalogue a record names that the store does not hold is reported, not counted as a break:
  it was removed, or it never reached ``controls.v1`` (a screening service deciding with its
  bundled catalogue, ADR 0022). Either way those decisions cannot be re-derived by replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from services.audit.catalogue_keys import catalogue_key

#: how many missing versions a report names (the count is always given)
NAMED = 3


@dataclass(frozen=True, slots=True)
class CatalogueReport:
    checked: int
    altered: str | None = None
    """Why the first altered catalogue is altered; None when every one holds."""
    missing: list[str] = field(default_factory=list)
    """Versions cited by the records checked that the store does not hold, sorted."""


async def check_catalogues(conn: Any, after_seq: int) -> CatalogueReport:
    """Every stored catalogue against its key; the versions records after ``after_seq`` cite."""
    rows = await conn.fetch(
        "SELECT version, content, content_sha256 FROM audit.catalogues_v ORDER BY version"
    )
    for row in rows:
        content = bytes(row["content"])
        if hashlib.sha256(content).digest() != bytes(row["content_sha256"]):
            return CatalogueReport(
                len(rows), f"catalogue {row['version']}: its content does not match its SHA-256"
            )
        computed = catalogue_key(content)
        if computed != row["version"]:
            return CatalogueReport(
                len(rows),
                f"catalogue {row['version']}: its content is that of {computed}",
            )
    cited = await conn.fetch(
        "SELECT DISTINCT catalogue_version FROM audit.decisions_v WHERE seq > $1", after_seq
    )
    held = {row["version"] for row in rows}
    missing = sorted({r["catalogue_version"] for r in cited} - held)
    return CatalogueReport(len(rows), None, missing)


def describe_missing(report: CatalogueReport, after_seq: int) -> str | None:
    """The NOTE line for versions cited but not held, or None."""
    if not report.missing:
        return None
    named = ", ".join(report.missing[:NAMED]) + (" …" if len(report.missing) > NAMED else "")
    return (
        f"NOTE: {len(report.missing)} catalogue version(s) cited by records after record "
        f"{after_seq} are not in the store ({named}): removed, or never published to the "
        "catalogue topic; those decisions cannot be re-derived by replay"
    )
