"""Ratios, targets, machine facts, the terminal table and ``.bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TARGET_SCREENING_RATIO = 0.5
TARGET_P99_MS_AT_1000 = 100.0


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    return round(a / b, 3)


def finish(results: dict[str, Any]) -> dict[str, Any]:
    """Add ratios, the verdict on every target and the machine, in place."""
    r = results
    r["screening_vs_passthrough"] = _ratio(
        r.get("screening_events_per_s"), r.get("passthrough_events_per_s")
    )
    r["audit_vs_raw_copy"] = _ratio(r.get("audit_records_per_s"), r.get("raw_copy_records_per_s"))
    p99 = r.get("e2e_decision_p99_ms_at_1000")
    ratio = r["screening_vs_passthrough"]
    r["targets"] = {
        "screening_ge_50pct_of_passthrough": ratio is not None and ratio >= TARGET_SCREENING_RATIO,
        "e2e_decision_p99_le_100ms_at_1000": p99 is not None and p99 <= TARGET_P99_MS_AT_1000,
        "nothing_lost": r.get("events_decided") == r.get("events_published")
        and r.get("events_audited") == r.get("decisions"),
    }
    r["machine"] = machine()
    r["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return r


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "-"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    r = results
    main = Table(title="Lodestone end-to-end benchmark", show_lines=False)
    main.add_column("measure")
    main.add_column("value", justify="right")
    main.add_column("baseline / target", justify="right")
    main.add_row("screening (events/s)", _fmt(r.get("screening_events_per_s")),
                 f"passthrough {_fmt(r.get('passthrough_events_per_s'))}")  # fmt: skip
    main.add_row("screening / passthrough", _pct(r.get("screening_vs_passthrough")), "≥ 50 %")
    main.add_row("audit persistence (records/s)", _fmt(r.get("audit_records_per_s")),
                 f"raw COPY {_fmt(r.get('raw_copy_records_per_s'))}")  # fmt: skip
    main.add_row("audit / raw COPY", _pct(r.get("audit_vs_raw_copy")), "")
    main.add_row(
        "e2e decision p99 at 1,000/s (ms)", _fmt(r.get("e2e_decision_p99_ms_at_1000")), "≤ 100"
    )
    for key in ("events_published", "events_decided", "decisions", "events_audited"):
        main.add_row(key, _fmt(r.get(key)), "")
    main.add_row("audit verify", "OK" if r.get("audit_verify_ok") else "FAILED", "")
    console.print(main)
    lat = Table(title="End-to-end latency at fixed offered rates (ms)")
    for col in ("offered/s", "achieved/s", "events", "decision p50", "p95", "p99",
                "audit p50", "p95", "p99"):  # fmt: skip
        lat.add_column(col, justify="right")
    for rate, row in r.get("latency", {}).items():
        d, a = row["decision_ms"], row["audit_ms"]
        lat.add_row(rate, _fmt(row["offered_per_s"]), _fmt(row["events"]),
                    _fmt(d["p50"]), _fmt(d["p95"]), _fmt(d["p99"]),
                    _fmt(a["p50"]), _fmt(a["p95"]), _fmt(a["p99"]))  # fmt: skip
    console.print(lat)
    _print_cpu(r, console)
    targets = ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in r["targets"].items())
    console.print(f"targets — {targets}")


def _print_cpu(results: dict[str, Any], console: Console) -> None:
    """CPU ms per event by part of the pipeline, per phase (benchmarks/cpu.py)."""
    phases: list[tuple[str, dict[str, Any]]] = []
    if "throughput_cpu" in results:
        phases.append(("backlog (screening)", results["throughput_cpu"]))
    for rate, row in results.get("latency", {}).items():
        if "cpu" in row:
            phases.append((f"{rate}/s", row["cpu"]))
    if not phases:
        return
    groups = ("screening", "audit", "kafka", "postgresql", "bench", "other", "total")
    table = Table(title="CPU per event by process (ms; cores used in brackets)")
    table.add_column("phase")
    for group in groups:
        table.add_column(group, justify="right")
    for name, cpu in phases:
        table.add_row(
            name,
            *(f"{cpu[g]['ms_per_event']:.3f} ({cpu[g]['cores']:.2f})" if g in cpu else "-"
              for g in groups),
        )  # fmt: skip
    console.print(table)
