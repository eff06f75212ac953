"""Cost of controlled-party screening per shipment event: ``make bench-parties``.

Two figures per list, each the best slice of 100 events over all repetitions (on a shared,
loaded machine the best is the least disturbed, as ``timeit`` advises; medians are printed too):

- ``match``: :func:`screen_parties` alone (consignee and end user of one event matched, statuses
  read, evidence built), every party name unseen before (the name cache never hits);
- ``added``: ``decide`` with the party list minus ``decide`` without it, on the same events
  (what party screening adds to a decision).

Lists: the bundled one (265 listings) and a synthetic one of 20,000 listings (random
pseudo-words, shared industry words and legal forms, a third with Chinese names), so that the
cost is seen not to grow with the list. The events' parties: 90 % unrelated companies, 5 % a
listed name, 5 % a near miss of one.
Usage: ``python -m benchmarks.parties.bench_parties [events] [repetitions]``.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from datetime import UTC, datetime
from statistics import median

from schemas import ControlledParty, Party, ShipmentEvent
from services.screening.catalogue import load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide
from services.screening.parties import PartyIndex, load_bundled_parties, screen_parties
from services.screening.parties.index import MAX_POSTINGS

INDUSTRY = [
    *("Technologies", "Systems", "Group", "Industries", "Aerospace", "Defense", "Electronics"),
    *("Materials", "Trading", "Logistics", "Research", "Institute", "Engineering", "Solutions"),
    *("International", "Holdings", "Manufacturing"),
]
LEGAL = ["Inc.", "Ltd.", "Co., Ltd.", "LLC", "GmbH", "S.A.", "Corp.", "K.K.", ""]
SYLLABLES = [
    *("ka", "ro", "mi", "tel", "van", "dor", "sen", "lu", "pa", "rex"),
    *("qui", "zan", "bo", "fer", "gal", "tor", "ne", "vi", "sha", "mon"),
]
HAN = "华东南北中科技电子材料航空防务精密光学机械工业研究所集团国际贸易"


def _vocabulary(size: int = 40_000, seed: int = 1) -> list[str]:
    """Distinct pseudo-words: company names draw on a large vocabulary, not a few hundred words."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 5))).capitalize())
    return sorted(words)


VOCABULARY = _vocabulary()


def _word(rng: random.Random) -> str:
    return rng.choice(VOCABULARY)


def _latin_name(rng: random.Random) -> str:
    words = [_word(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.6:
        words.append(rng.choice(INDUSTRY))
    return " ".join([*words, rng.choice(LEGAL)]).strip()


def synthetic_list(size: int, seed: int = 3) -> list[ControlledParty]:
    rng = random.Random(seed)
    parties = []
    for n in range(size):
        name = _latin_name(rng)
        zh = "".join(rng.choice(HAN) for _ in range(rng.randint(3, 6))) + "公司"
        parties.append(
            ControlledParty.model_validate(
                {
                    "entity_id": f"syn-{n:05d}",
                    "name": name,
                    "name_zh": zh if rng.random() < 0.33 else None,
                    "aliases": [_latin_name(rng)] if rng.random() < 0.3 else [],
                    "country": rng.choice(["US", "JP", "DE", "TW"]),
                    "list": rng.choice(["control", "UEL", "watch"]),
                    "announcement": f"Synthetic Announcement {n // 20}",
                    "announcement_key": f"SYN-{n // 20}",
                    "listed_on": "2025-01-02",
                    "effective_on": "2025-01-02",
                    "status_windows": [{"status": "in_force", "from": "2025-01-02"}],
                }
            )
        )
    return parties


def _party_name(rng: random.Random, listed: list[ControlledParty], n: int) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(listed).name
    if roll < 0.10:
        return rng.choice(listed).name[:-1] + f" {n}"  # a near miss, unseen before
    return f"{_latin_name(rng)} {n}"  # the number keeps every name unseen


def make_events(count: int, listed: list[ControlledParty], seed: int = 5) -> list[ShipmentEvent]:
    rng = random.Random(seed)
    base = {
        "event_type": "shipment.declared",
        "occurred_at": "2026-11-29T08:00:00+00:00",
        "ship_date": "2026-11-30",
        "exporter": {"id": "CN-EXP-1", "name": "Exporter", "country": "CN"},
        "end_use": "civil",
        "destination_country": "DE",
        "lines": [
            {
                "line_no": 1,
                "hs_code": "2846901940",
                "description": "Samarium oxide 99.9%",
                "quantity": "100",
                "unit": "kg",
                "value": "1000",
                "currency": "USD",
                "origin_country": "CN",
            }
        ],
    }
    events = []
    for n in range(count):
        consignee = Party(id=f"C{n}", name=_party_name(rng, listed, 2 * n), country="DE")
        end_user = Party(id=f"E{n}", name=_party_name(rng, listed, 2 * n + 1), country="US")
        events.append(
            ShipmentEvent.model_validate(
                {
                    **base,
                    "event_id": f"EVT-{n}",
                    "shipment_id": f"SHP-{n}",
                    "consignee": consignee.model_dump(),
                    "end_user": end_user.model_dump(),
                }
            )
        )
    return events


SLICE = 100


def _time_per_event(run: object, events: list[ShipmentEvent]) -> list[float]:
    """CPU µs per event of each slice of :data:`SLICE` events (CPU time of this process: other
    processes' load stays out, except what it does to caches and clock speed)."""
    assert callable(run)
    gc.collect()
    figures = []
    for start in range(0, len(events), SLICE):
        chunk = events[start : start + SLICE]
        started = time.process_time()
        for shipment in chunk:
            run(shipment)
        figures.append((time.process_time() - started) / len(chunk) * 1e6)
    return figures


def measure(listed: list[ControlledParty], count: int, repetitions: int) -> dict[str, float]:
    catalogue = load_bundled_catalogue()
    decided_at = datetime.now(UTC)
    usage = UsageByOthers.empty()
    matches: list[float] = []
    added: list[float] = []
    candidates: list[int] = []
    for repetition in range(repetitions):
        events = make_events(count, listed, seed=repetition)
        fresh = PartyIndex(listed)  # a fresh index: an empty name cache
        matches.extend(_time_per_event(lambda e, i=fresh: screen_parties(e, i), events))
        index = PartyIndex(listed)

        def with_parties(e: ShipmentEvent, index: PartyIndex = index) -> None:
            decide(e, catalogue, [], usage, decided_at=decided_at, parties=index)

        def without(e: ShipmentEvent) -> None:
            decide(e, catalogue, [], usage, decided_at=decided_at)

        plain = _time_per_event(without, events)
        slices = zip(_time_per_event(with_parties, events), plain, strict=True)
        added.extend(w - p for w, p in slices)
        candidates.append(
            max(index.candidate_count(p.name) for e in events for p in (e.consignee, e.end_user))
        )
    return {
        "listings": float(len(listed)),
        "match_us": min(matches),
        "match_median_us": median(matches),
        "added_us": min(added),
        "added_median_us": median(added),
        "max_candidates": float(max(candidates)),
    }


def main(argv: list[str]) -> None:
    count = int(argv[1]) if len(argv) > 1 else 1000
    repetitions = int(argv[2]) if len(argv) > 2 else 9
    print(f"{count} events x {repetitions} repetitions; key postings cap {MAX_POSTINGS}")
    for label, listed in (
        ("bundled", load_bundled_parties()),
        ("synthetic 20k", synthetic_list(20_000)),
    ):
        figures = measure(listed, count, repetitions)
        print(
            f"{label:>14}: {int(figures['listings']):>6} listings"
            f"  match {figures['match_us']:6.1f} us/event"
            f" (median {figures['match_median_us']:.1f})"
            f"  added to decide {figures['added_us']:6.1f}"
            f" (median {figures['added_median_us']:.1f})"
            f"  max candidates per name {int(figures['max_candidates'])}"
        )


if __name__ == "__main__":
    main(sys.argv)
