"""Prometheus metrics of the audit service, on a registry of its own (one per service instance)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class AuditMetrics:
    """Counters and histograms the audit service updates as it writes."""

    registry: CollectorRegistry = field(default_factory=_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.records = Counter(
            "lodestone_audit_records_total",
            "Records read from decisions.v1, by what became of them",
            ["result"],  # inserted | duplicate | rejected
            registry=r,
        )
        self.batch_size = Histogram(
            "lodestone_audit_batch_size",
            "Records per written batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.write_latency = Histogram(
            "lodestone_audit_write_seconds",
            "Time to write one batch (one database transaction), including retries",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.write_retries = Counter(
            "lodestone_audit_write_retries_total",
            "Batch writes retried after a database error",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "lodestone_audit_consumer_lag",
            "Records on decisions.v1 not yet written, per partition",
            ["partition"],
            registry=r,
        )
        self.chain_head = Gauge(
            "lodestone_audit_chain_head_seq", "Sequence number of the chain head", registry=r
        )
        self.catalogues = Counter(
            "lodestone_audit_catalogue_records_total",
            "Catalogue records read from controls.v1",
            registry=r,
        )
