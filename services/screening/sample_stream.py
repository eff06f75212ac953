"""A realistic, reproducible sample stream of shipment events and licences.

Used by ``make demo`` and the load benchmark: ``generate_events(n, seed)`` and
``sample_licences()``. Exporters, goods and destinations mix controlled items (rare earths,
gallium, germanium, antimony, graphite, tungsten) with uncontrolled goods; some shipments go
to military end uses, some are amended, a few cancelled, and some repeat (ERP retries).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from schemas import CargoLine, ElementContent, EndUse, EventType, License, Party, ShipmentEvent


@dataclass(frozen=True)
class Goods:
    hs_code: str
    description: str
    control_code: str | None
    unit: str
    price_per_unit: Decimal
    purity_pct: str | None = None
    composition: tuple[tuple[str, str], ...] = ()


CONTROLLED = (
    Goods("2846901940", "Samarium oxide 99.9%", "1C902.b", "kg", Decimal("364"), "99.9"),
    Goods("2846901950", "Dysprosium oxide 99.5%", "1C902.d", "kg", Decimal("260"), "99.5"),
    Goods("2805301400", "Terbium metal 99.9%", "1C902.c", "kg", Decimal("1020"), "99.9"),
    Goods("8112921010", "Gallium metal 99.99%", None, "kg", Decimal("410"), "99.99"),
    Goods("8112921090", "Germanium ingot 99.999%", None, "kg", Decimal("1700"), "99.999"),
    Goods("2825800000", "Antimony trioxide", None, "t", Decimal("38000"), "99.8"),
    Goods("3801100000", "Synthetic graphite, artificial", None, "t", Decimal("5200"), "99.9"),
    Goods("8101940000", "Unwrought tungsten bars", None, "kg", Decimal("52"), "99.95"),
    Goods(
        "8505111000",
        "NdFeB permanent magnets, Dy-bearing",
        None,
        "kg",
        Decimal("95"),
        None,
        (("Nd", "29.5"), ("Dy", "4.5"), ("Fe", "65")),
    ),
)
UNCONTROLLED = (
    Goods("7403110000", "Refined copper cathodes", None, "t", Decimal("9400")),
    Goods("7208510000", "Hot-rolled steel plate", None, "t", Decimal("640")),
    Goods("6907210000", "Ceramic floor tiles", None, "pcs", Decimal("3")),
    Goods("8541430000", "Photovoltaic modules", None, "pcs", Decimal("92")),
    Goods("2836200000", "Soda ash (disodium carbonate)", None, "t", Decimal("280")),
)

EXPORTERS = (
    Party(id="CN-EXP-0001", name="Baotou Rare Earth Trading Co.", country="CN"),
    Party(id="CN-EXP-0002", name="Ganzhou Heavy Metals Export Ltd.", country="CN"),
    Party(id="CN-EXP-0003", name="Yunnan Gallium & Germanium Co.", country="CN"),
    Party(id="CN-EXP-0004", name="Hunan Antimony Industry Co.", country="CN"),
)
CUSTOMERS = (
    Party(id="DE-C-77", name="Magnetwerk GmbH", country="DE"),
    Party(id="JP-C-12", name="Nippon Denshi Materials KK", country="JP"),
    Party(id="US-C-12", name="Great Lakes Magnetics Inc.", country="US"),
    Party(id="KR-C-03", name="Hanbit Semicon Co.", country="KR"),
    Party(id="FR-C-41", name="Optique Atlantique SAS", country="FR"),
    Party(id="VN-C-08", name="Saigon Electronics JSC", country="VN"),
    Party(id="IN-C-19", name="Pune Battery Works Pvt", country="IN"),
)

#: The licence granted mid-stream by the demo (releases CN-EXP-0002's rare-earth holds).
LATE_LICENCE_ID = "MOFCOM-GL-2026-0099"


def sample_licences(today: date | None = None) -> list[License]:
    """Licences in force at the start of the stream (the late one is :func:`late_licence`)."""
    today = today or datetime.now(UTC).date()
    start, end = today - timedelta(days=30), today + timedelta(days=335)
    return [
        License(license_id="MOFCOM-GL-2025-0042", kind="general", holder_id="CN-EXP-0001",
                status="active", valid_from=start, valid_to=end, hs_codes=["2846", "2805"],
                control_codes=["1C902"], destinations=["DE", "FR", "JP"],
                max_quantity={"amount": "20", "unit": "t"}),
        License(license_id="MOFCOM-SL-2026-0007", kind="single", holder_id="CN-EXP-0003",
                status="active", valid_from=start, valid_to=end, hs_codes=["811292"],
                destinations=["KR"], max_quantity={"amount": "800", "unit": "kg"}),
        License(license_id="MOFCOM-GL-2025-0311", kind="general", holder_id="CN-EXP-0004",
                status="active", valid_from=start, valid_to=today - timedelta(days=1),
                hs_codes=["2825"]),
        License(license_id="MOFCOM-GL-2025-0150", kind="general", holder_id="CN-EXP-0003",
                status="suspended", valid_from=start, valid_to=end, hs_codes=["8112"]),
    ]  # fmt: skip


def late_licence(today: date | None = None) -> License:
    """A general licence for CN-EXP-0002's rare earths, granted while the stream runs."""
    today = today or datetime.now(UTC).date()
    return License(
        license_id=LATE_LICENCE_ID, kind="general", holder_id="CN-EXP-0002", status="active",
        valid_from=today - timedelta(days=1), valid_to=today + timedelta(days=365),
        hs_codes=["2846", "2805", "8505"], control_codes=["1C902"],
    )  # fmt: skip


def _line(rng: random.Random, line_no: int, goods: Goods) -> CargoLine:
    quantity = Decimal(rng.choice((1, 2, 5, 10, 25, 50, 120, 300, 500)))
    if goods.unit == "pcs":
        quantity *= 100
    return CargoLine(
        line_no=line_no,
        hs_code=goods.hs_code,
        description=goods.description,
        control_code=goods.control_code if rng.random() < 0.6 else None,
        quantity=quantity,
        unit=goods.unit,
        value=(quantity * goods.price_per_unit).quantize(Decimal("0.01")),
        currency="USD",
        origin_country="CN",
        purity_pct=Decimal(goods.purity_pct) if goods.purity_pct and rng.random() < 0.9 else None,
        composition=[ElementContent(element=e, mass_pct=Decimal(p)) for e, p in goods.composition],
    )


def _event(
    rng: random.Random, index: int, day: date, occurred: datetime, prefix: str
) -> ShipmentEvent:
    exporter = EXPORTERS[index % len(EXPORTERS)]
    customer = rng.choice(CUSTOMERS)
    military = rng.random() < 0.06
    palette = CONTROLLED if rng.random() < 0.65 else UNCONTROLLED
    goods = rng.sample(palette, k=rng.choice((1, 1, 1, 2, 3)))
    return ShipmentEvent(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        event_type=EventType.DECLARED,
        occurred_at=occurred,
        shipment_id=f"{prefix}-{index:06d}",
        ship_date=day + timedelta(days=rng.randint(1, 20)),
        exporter=exporter,
        consignee=customer,
        end_user=customer,
        end_use=EndUse.MILITARY
        if military
        else rng.choice((EndUse.CIVIL, EndUse.CIVIL, EndUse.UNKNOWN)),
        destination_country=customer.country,
        lines=[_line(rng, n, g) for n, g in enumerate(goods, start=1)],
    )


def generate_events(
    n: int, seed: int = 7, today: date | None = None, shipment_prefix: str | None = None
) -> list[ShipmentEvent]:
    """``n`` events, reproducible from ``seed``: mostly declarations, with amendments (~8%),
    cancellations (~3%) and ERP retries (~2% exact duplicates) of earlier shipments.

    Shipment ids are ``<shipment_prefix>-NNNNNN`` (default ``SHP-<year>``).
    """
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    prefix = shipment_prefix or f"SHP-{today:%Y}"
    events: list[ShipmentEvent] = []
    declared: list[ShipmentEvent] = []
    for i in range(n):
        occurred = start + timedelta(seconds=i)
        roll = rng.random()
        if declared and roll < 0.02:
            events.append(rng.choice(declared))  # the ERP sent it again
            continue
        if declared and roll < 0.10:
            base = rng.choice(declared)
            new_lines = [_line(rng, line.line_no, _goods_of(line)) for line in base.lines]
            events.append(base.model_copy(update={
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": EventType.AMENDED, "occurred_at": occurred, "lines": new_lines,
            }))  # fmt: skip
            continue
        if declared and roll < 0.13:
            base = declared.pop(rng.randrange(len(declared)))
            events.append(base.model_copy(update={
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": EventType.CANCELLED, "occurred_at": occurred, "lines": [],
            }))  # fmt: skip
            continue
        event = _event(rng, i, today, occurred, prefix)
        declared.append(event)
        events.append(event)
    return events


def _goods_of(line: CargoLine) -> Goods:
    for goods in (*CONTROLLED, *UNCONTROLLED):
        if goods.hs_code == line.hs_code:
            return goods
    return UNCONTROLLED[0]
