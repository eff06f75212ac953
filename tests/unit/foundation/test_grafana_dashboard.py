"""The Grafana dashboard loads, is current, and queries only metrics the services export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from deploy.grafana.dashboard import DASHBOARD_FILE, render
from services.audit.metrics import AuditMetrics
from services.screening.catalogue import load_bundled_catalogue
from services.screening.ledger_gauges import LedgerGauges
from services.screening.metrics import ScreeningMetrics

#: PromQL functions, aggregations and keywords the dashboard may use (anything else is a metric).
PROMQL_WORDS = frozenset(
    {
        *("sum", "min", "max", "avg", "count", "topk", "bottomk"),
        *("rate", "increase", "irate", "histogram_quantile", "vector"),
        *("by", "without", "on", "ignoring", "group_left", "group_right", "offset"),
        *("or", "and", "unless"),
    }
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
    "summary": ("", "_sum", "_count", "_created"),
    "unknown": ("",),
}


def exported_names() -> set[str]:
    """Every sample name the services' real registries expose (by family type)."""
    screening = ScreeningMetrics(CollectorRegistry())
    catalogue = load_bundled_catalogue()
    screening.watch_catalogue(lambda: catalogue)
    LedgerGauges(screening.registry)  # registered by the service on the same registry
    audit = AuditMetrics()
    names: set[str] = set()
    for registry in (screening.registry, audit.registry):
        for family in registry.collect():
            names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return loaded


def expressions() -> Iterator[str]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]


def metrics_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside label matchers, range
    selectors, grouping clauses and strings that are not PromQL words."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)
    identifiers = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return identifiers - PROMQL_WORDS


def test_committed_dashboard_is_current() -> None:
    assert DASHBOARD_FILE.read_text(encoding="utf-8") == render(), (
        "run: python -m deploy.grafana.dashboard"
    )


@pytest.mark.parametrize("expr", list(expressions()))
def test_every_query_names_only_exported_metrics(expr: str) -> None:
    named = metrics_in(expr)
    assert named, f"no metric in {expr!r}"
    unknown = named - exported_names()
    assert not unknown, f"{expr!r} names metrics no service exports: {sorted(unknown)}"


def test_the_metric_check_itself_catches_a_misspelt_metric() -> None:
    assert metrics_in("sum by (outcome) (rate(lodestone_screening_decision_total[5m]))") == {
        "lodestone_screening_decision_total"
    }
    assert "lodestone_screening_decision_total" not in exported_names()


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = set().union(*(metrics_in(e) for e in expressions()))
    for metric in (
        "lodestone_screening_decisions_total",
        "lodestone_screening_decision_reasons_total",
        "lodestone_screening_consumer_lag",
        "lodestone_screening_batch_seconds_bucket",
        "lodestone_screening_processing_seconds_bucket",
        "lodestone_screening_dead_letters_total",
        "lodestone_screening_catalogue_info",
        "lodestone_screening_unconfirmed_measures",
        "lodestone_screening_rescreen_failures_total",
        "lodestone_screening_catalogue_age_days",
        "lodestone_screening_measure_confirmed_age_days",
        "lodestone_audit_write_seconds_bucket",
        "lodestone_audit_consumer_lag",
        "lodestone_screening_open_holds",
        "lodestone_screening_licence_utilisation_ratio",
    ):
        assert metric in used, metric


def test_panels_fit_the_grid_and_have_unique_ids() -> None:
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"], panel["title"]
