"""Prometheus metrics of the screening service, in a registry of their own per instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas import ControlledParty, Decision
from services.screening.catalogue import Catalogue
from services.screening.catalogue.summary import unconfirmed_statuses
from services.screening.freshness import Freshness


class ScreeningMetrics:
    """Decisions, latency, dead letters, lag, ledger conflicts and the catalogue in use."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "lodestone_screening_decisions",
            "Decisions emitted, by outcome and trigger.",
            ["outcome", "trigger"],
            registry=r,
        )
        self.reasons = Counter(
            "lodestone_screening_decision_reasons",
            "Reasons carried by emitted decisions.",
            ["code"],
            registry=r,
        )
        self.party_matches = Counter(
            "lodestone_screening_party_matches",
            "Controlled-party matches in emitted decisions, by list, match kind and effect.",
            ["list", "kind", "effect"],
            registry=r,
        )
        self.latency = Histogram(
            "lodestone_screening_processing_seconds",
            "From record fetched to decision stored, per event.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "lodestone_screening_batch_seconds",
            "From a batch read to its offsets committed (decide, settle, publish, acks).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.dead_letters = Counter(
            "lodestone_screening_dead_letters",
            "Records sent to the dead-letter topic, by error type.",
            ["error_type"],
            registry=r,
        )
        self.rescreen_failures = Counter(
            "lodestone_screening_rescreen_failures",
            "Shipments a re-screen could not decide (each keeps its decision), by trigger.",
            ["trigger"],
            registry=r,
        )
        self.duplicates = Counter(
            "lodestone_screening_duplicate_events",
            "Events already decided (the stored decision was re-emitted).",
            registry=r,
        )
        self.ledger_conflicts = Counter(
            "lodestone_screening_ledger_conflicts",
            "Decisions re-taken because the licence ledger changed meanwhile.",
            registry=r,
        )
        self.transient_errors = Counter(
            "lodestone_screening_transient_errors",
            "Transient failures (database or broker) retried with backoff.",
            ["stage"],
            registry=r,
        )
        self.lag = Gauge(
            "lodestone_screening_consumer_lag",
            "Records behind the end of each assigned shipments partition.",
            ["partition"],
            registry=r,
        )
        self.catalogue = Info(
            "lodestone_screening_catalogue", "The control catalogue version in use.", registry=r
        )
        self.licences = Gauge(
            "lodestone_screening_licences", "Licences currently known.", registry=r
        )
        self.ready = Gauge(
            "lodestone_screening_ready", "1 when reference data is loaded.", registry=r
        )

        # labelled children, looked up once: ``labels()`` costs more than ``inc()`` per event
        self._decision_children: dict[tuple[Any, Any], Any] = {}
        self._reason_children: dict[Any, Any] = {}

    def watch_catalogue(
        self,
        catalogue: Callable[[], Catalogue | None],
        today: Callable[[], date] | None = None,
        parties: Callable[[], Sequence[ControlledParty] | None] | None = None,
    ) -> None:
        """Export the measures whose status today is assumed and the freshness of the catalogue
        and the party list (computed at each scrape)."""
        self.registry.register(UnconfirmedMeasures(catalogue, today or _today))
        self.registry.register(Freshness(catalogue, today or _today, parties))

    def observe_decision(self, decision: Decision) -> None:
        key = (decision.outcome, decision.trigger)
        child = self._decision_children.get(key)
        if child is None:
            child = self.decisions.labels(decision.outcome.value, decision.trigger.value)
            self._decision_children[key] = child
        child.inc()
        for reason in decision.reasons:
            counter = self._reason_children.get(reason.code)
            if counter is None:
                counter = self.reasons.labels(reason.code.value)
                self._reason_children[reason.code] = counter
            counter.inc()
        if decision.evidence is not None:  # controlled-party matches (services/screening/parties)
            for match in decision.evidence.parties:
                self.party_matches.labels(
                    match.party_list.value, match.kind.value, match.effect.value
                ).inc()


def _today() -> date:
    return datetime.now(UTC).date()


class UnconfirmedMeasures(Collector):
    """``lodestone_screening_unconfirmed_measures{measure, confirmed_through}``: one series per
    measure whose status today follows only from the catalogue's dates (value 1)."""

    def __init__(
        self, catalogue: Callable[[], Catalogue | None], today: Callable[[], date]
    ) -> None:
        self._catalogue = catalogue
        self._today = today

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "lodestone_screening_unconfirmed_measures",
            "Measures whose status today is assumed from the catalogue's dates, not confirmed"
            " by an announcement (decisions resting on them carry MEASURE_STATUS_UNCONFIRMED).",
            labels=["measure", "confirmed_through"],
        )
        catalogue = self._catalogue()
        if catalogue is not None:
            for status in unconfirmed_statuses(catalogue, self._today()):
                family.add_metric([status.measure_id, str(status.confirmed_through)], 1)
        yield family
