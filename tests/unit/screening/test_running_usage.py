"""The batch's in-memory usage: own consumption excluded, decisions replace, caps checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from schemas import Decision, License, LineDecision, Outcome, Quantity, Unit
from services.screening.running_usage import RunningUsage, stored_amount


def _licence(kind: str = "general", cap: str | None = "100") -> License:
    raw: dict[str, object] = {
        "license_id": f"L-{kind}",
        "kind": kind,
        "holder_id": "CN-1",
        "status": "active",
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2026, 12, 31),
        "hs_codes": ["2846"],
    }
    if cap is not None:
        raw["max_quantity"] = {"amount": cap, "unit": "kg"}
    return License.model_validate(raw)


def test_usage_excludes_the_shipment_itself_and_converts_to_the_cap_unit() -> None:
    usage = RunningUsage([_licence()])
    usage.add_row("L-general", None, Decimal("10"), Unit("kg"))
    usage.add_row("L-general", "S1", Decimal("0.02"), Unit("t"))
    usage.add_row("L-general", "S2", Decimal("5"), Unit("kg"))
    assert usage.usage_for("S1", ["L-general"]).consumed == {"L-general": Decimal("15")}
    assert usage.usage_for("S2", ["L-general"]).consumed == {"L-general": Decimal("30.00")}
    assert usage.usage_for("S3", ["L-general"]).consumed == {"L-general": Decimal("35.00")}


def test_single_use_names_the_other_shipment() -> None:
    usage = RunningUsage([_licence("single", cap="1")])
    usage.add_row("L-single", "S9", Decimal("1"), Unit("kg"))
    assert usage.usage_for("S1", ["L-single"]).single_used_by == {"L-single": "S9"}
    assert usage.usage_for("S9", ["L-single"]).single_used_by == {}


def test_no_rows_means_no_usage_and_untracked_licences_are_ignored() -> None:
    usage = RunningUsage([_licence(cap=None)])
    assert usage.licence_ids == []
    assert usage.usage_for("S1", ["L-general"]).consumed == {}


def test_stored_amount_is_what_postgres_returns() -> None:
    assert str(stored_amount(Decimal("1E+3"))) == "1000"
    assert str(stored_amount(Decimal("12.50"))) == "12.50"


def test_usage_keeps_the_exponent_of_a_plain_sum_after_a_shipment_leaves() -> None:
    """The evidence serialises these Decimals: 2 must stay "2", not become "2.0"."""
    usage = RunningUsage([_licence()])
    usage.add_row("L-general", "S1", Decimal("2"), Unit("kg"))
    usage.add_row("L-general", "S2", Decimal("1.5"), Unit("kg"))
    assert str(usage.usage_for("S3", ["L-general"]).consumed["L-general"]) == "3.5"
    usage.apply(Decision.model_construct(shipment_id="S2", outcome=Outcome.HOLD, lines=[]))  # type: ignore[call-arg]
    assert str(usage.usage_for("S3", ["L-general"]).consumed["L-general"]) == "2"
    assert str(usage.usage_for("S1", ["L-general"]).consumed.get("L-general")) == "None"
    usage.add_row("L-general", "S4", Decimal("0.25"), Unit("kg"))
    assert str(usage.usage_for("S1", ["L-general"]).consumed["L-general"]) == "0.25"
    assert str(usage.usage_for("S3", ["L-general"]).consumed["L-general"]) == "2.25"


def test_consumption_a_cap_cannot_count_is_ignored_by_the_decision_and_the_check_alike() -> None:
    """The cap changed from kg to pieces: the kg rows count neither in the usage the engine is
    given nor in the re-check under locks (one rule, so the two never disagree), while the
    pieces and the single-use users still do."""
    pieces = License.model_validate(
        _licence().model_dump() | {"max_quantity": {"amount": "5", "unit": "pcs"}}
    )
    usage = RunningUsage([pieces])
    usage.add_row("L-general", None, Decimal("90"), Unit("kg"))
    usage.add_row("L-general", "S1", Decimal("100"), Unit("kg"))
    usage.add_row("L-general", "S2", Decimal("4"), Unit("pcs"))
    assert usage.usage_for("S3").consumed == {"L-general": Decimal("4")}
    one_more = LineDecision.model_construct(  # type: ignore[call-arg]
        line_no=1, license_id="L-general", consumed=Quantity(amount=Decimal(1), unit=Unit.PCS)
    )
    fits = Decision.model_construct(  # type: ignore[call-arg]
        shipment_id="S3", outcome=Outcome.APPROVE, lines=[one_more]
    )
    assert usage.fits(fits)
    usage.apply(fits)
    assert usage.usage_for("S4").consumed == {"L-general": Decimal("5")}
    assert not usage.fits(fits.model_copy(update={"shipment_id": "S4"}))
