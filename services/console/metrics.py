"""The console's Prometheus metrics, served on ``/metrics`` beside the probes.

Sign-ins by result show a guessing attack; reviews by action show the desk at work; records on
the decisions topic that are not signed decisions show a forger; the two ``following`` gauges
show whether the live view and the reviews shown are current (the pages work without them).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConsoleMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.sign_ins = Counter(
            "lodestone_console_sign_ins",
            "Sign-in attempts by result (ok or refused).",
            ["result"],
            registry=self.registry,
        )
        self.reviews = Counter(
            "lodestone_console_reviews",
            "Reviews published to the reviews topic, by action.",
            ["action"],
            registry=self.registry,
        )
        self.unverified = Counter(
            "lodestone_console_live_unverified",
            "Records on the decisions topic not signed by a trusted key (flagged, never shown as"
            " decisions).",
            registry=self.registry,
        )
        self.streams = Gauge(
            "lodestone_console_live_streams",
            "Browsers following the live view now.",
            registry=self.registry,
        )
        self.following = Gauge(
            "lodestone_console_following",
            "1 while the console follows the topic (decisions: the live view; reviews: the"
            " reviews shown), 0 while it retries.",
            ["topic"],
            registry=self.registry,
        )
