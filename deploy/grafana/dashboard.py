"""Generate ``deploy/grafana/lodestone.json``: the operators' Grafana dashboard.

Run ``python -m deploy.grafana.dashboard`` after changing a panel; a test fails while the
committed file is stale, and another fails if a query names a metric the services do not export.
Import the JSON in Grafana (Dashboards → Import) and pick the Prometheus data source that
scrapes the services' ``/metrics``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DASHBOARD_FILE = Path(__file__).parent / "lodestone.json"
_DS = {"type": "prometheus", "uid": "${datasource}"}
_RATE = "$__rate_interval"


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"datasource": _DS, "expr": expr, "refId": ref}
    if legend:
        target["legendFormat"] = legend
    if instant:
        target["instant"] = True
        target["range"] = False
    return target


def _panel(
    title: str,
    targets: list[dict[str, Any]],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    description: str = "",
) -> dict[str, Any]:
    for position, target in enumerate(targets):
        target["refId"] = chr(ord("A") + position)
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "gridPos": {"w": width, "h": height},
    }


def _row(title: str) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": 24, "h": 1},
    }


def _quantiles(metric: str) -> list[dict[str, Any]]:
    return [
        _target(
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket[{_RATE}])))",
            f"p{int(q * 100)}",
        )
        for q in (0.5, 0.99)
    ]


def panels() -> list[dict[str, Any]]:
    """Every row and panel, top to bottom."""
    return [
        _row("Decisions"),
        _panel(
            "Decisions by outcome",
            [
                _target(
                    f"sum by (outcome) (rate(lodestone_screening_decisions_total[{_RATE}]))",
                    "{{outcome}}",
                )
            ],
            unit="ops",
        ),
        _panel(
            "Reasons on decisions",
            [
                _target(
                    f"sum by (code) (rate(lodestone_screening_decision_reasons_total[{_RATE}]))",
                    "{{code}}",
                )
            ],
            unit="ops",
            description="Every reason code carried by emitted decisions (holds name theirs).",
        ),
        _panel(
            "Decisions by trigger",
            [
                _target(
                    f"sum by (trigger) (rate(lodestone_screening_decisions_total[{_RATE}]))",
                    "{{trigger}}",
                )
            ],
            unit="ops",
        ),
        _panel(
            "Dead letters by error type",
            [
                _target(
                    f"sum by (error_type) (rate(lodestone_screening_dead_letters_total[{_RATE}]))",
                    "{{error_type}}",
                )
            ],
            unit="ops",
        ),
        _panel(
            "Open holds",
            [_target("max(lodestone_screening_open_holds)", "open holds")],
            description="Shipments whose latest decision is a hold (from the ledger, every 30 s).",
        ),
        _panel(
            "Licence utilisation (10 most used capped licences)",
            [
                _target(
                    "topk(10, max by (licence) (lodestone_screening_licence_utilisation_ratio))",
                    "{{licence}}",
                )
            ],
            unit="percentunit",
            description="Quantity consumed as a share of the cap (1 = exhausted).",
        ),
        _row("Flow"),
        _panel(
            "Shipments consumer lag",
            [
                _target(
                    "sum by (partition) (lodestone_screening_consumer_lag)",
                    "partition {{partition}}",
                )
            ],
            description="Records behind the end of each shipments partition.",
        ),
        _panel(
            "Decision latency (record → decision stored)",
            _quantiles("lodestone_screening_processing_seconds"),
            unit="s",
        ),
        _panel(
            "Batch latency (read → offsets committed)",
            _quantiles("lodestone_screening_batch_seconds"),
            unit="s",
        ),
        _panel(
            "Transient failures retried, by stage",
            [
                _target(
                    f"sum by (stage) (rate(lodestone_screening_transient_errors_total[{_RATE}]))",
                    "{{stage}}",
                )
            ],
            unit="ops",
            description="Database, broker and schema-registry trouble being waited out.",
        ),
        _panel(
            "Duplicates and ledger conflicts",
            [
                _target(
                    f"sum(rate(lodestone_screening_duplicate_events_total[{_RATE}]))",
                    "duplicate events",
                ),
                _target(
                    f"sum(rate(lodestone_screening_ledger_conflicts_total[{_RATE}]))",
                    "ledger conflicts",
                ),
            ],
            unit="ops",
        ),
        _panel(
            "Re-screen failures (last hour)",
            [
                _target(
                    "sum by (trigger) (increase(lodestone_screening_rescreen_failures_total[1h]))",
                    "{{trigger}}",
                )
            ],
        ),
        _row("Reference data"),
        _panel(
            "Catalogue in use",
            [
                _target(
                    "lodestone_screening_catalogue_info", "{{version}} ({{source}})", instant=True
                )
            ],
            kind="table",
            width=12,
        ),
        _panel(
            "Service ready / licences known",
            [
                _target("min(lodestone_screening_ready)", "ready (all instances)", instant=True),
                _target("max(lodestone_screening_licences)", "licences", instant=True),
            ],
            kind="stat",
            width=6,
        ),
        _panel(
            "Measures with an assumed status",
            [
                _target(
                    "count(lodestone_screening_unconfirmed_measures) or vector(0)",
                    "measures",
                    instant=True,
                )
            ],
            kind="stat",
            width=6,
            description="Decisions resting on them carry MEASURE_STATUS_UNCONFIRMED.",
        ),
        _panel(
            "Catalogue age",
            [_target("max(lodestone_screening_catalogue_age_days)", "days since edition")],
            unit="d",
        ),
        _panel(
            "Days since each measure's confirmation",
            [
                _target(
                    "max by (measure) (lodestone_screening_measure_confirmed_age_days)",
                    "{{measure}}",
                )
            ],
            unit="d",
            description="Past 0 the measure's status is assumed from the catalogue's dates.",
        ),
        _row("Audit"),
        _panel(
            "Audit records by result",
            [
                _target(
                    f"sum by (result) (rate(lodestone_audit_records_total[{_RATE}]))", "{{result}}"
                )
            ],
            unit="ops",
        ),
        _panel(
            "Audit write latency (one batch)", _quantiles("lodestone_audit_write_seconds"), unit="s"
        ),
        _panel(
            "Audit consumer lag",
            [
                _target(
                    "sum by (partition) (lodestone_audit_consumer_lag)", "partition {{partition}}"
                )
            ],
        ),
        _panel(
            "Audit write retries and chain head",
            [
                _target(f"sum(rate(lodestone_audit_write_retries_total[{_RATE}]))", "retries/s"),
                _target("max(lodestone_audit_chain_head_seq)", "chain head"),
            ],
        ),
    ]


def _lay_out(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each panel an id and a place: left to right, wrapping at 24 columns."""
    x = y = row_height = 0
    for number, item in enumerate(items, start=1):
        item["id"] = number
        grid = item["gridPos"]
        if item["type"] == "row" or x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        if item["type"] == "row":
            x, y, row_height = 0, y + grid["h"], 0
    return items


def build() -> dict[str, Any]:
    return {
        "title": "Lodestone",
        "uid": "lodestone-overview",
        "description": "Screening decisions, flow, reference-data freshness and the audit trail.",
        "tags": ["lodestone"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": _lay_out(panels()),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    text = render()
    if not DASHBOARD_FILE.exists() or DASHBOARD_FILE.read_text(encoding="utf-8") != text:
        DASHBOARD_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DASHBOARD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
