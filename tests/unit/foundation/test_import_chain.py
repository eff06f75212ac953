"""The screening service's modules stay shallow: a chain of at most seven (ADR 0027)."""

from __future__ import annotations

from tests.import_chain import longest_chain


def test_the_longest_import_chain_in_screening_has_at_most_seven_levels() -> None:
    chain = longest_chain("services.screening")
    assert len(chain) <= 7, " -> ".join(chain)
