"""Reports: a run (and its comparison with a baseline) as one self-contained HTML file, or as
JSON, CSV or JUnit XML for pipelines. Plain Python (jinja2), no web server."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from ..compare import compare
from ..resources import plotly_path, ui_dir
from ..runs import get_run, series

def build(engine: Engine, run_id: int, baseline: int | None, fmt: str) -> str:
    run = get_run(engine, run_id)
    base = get_run(engine, baseline) if baseline is not None else None
    comparison = compare(base, run) if base is not None else None
    if fmt == "json":
        return json.dumps({"run": {**run, "series": series(engine, run_id)}, "baseline": base, "comparison": comparison}, indent=2)
    if fmt == "csv":
        return _csv(run)
    if fmt == "junit":
        return _junit(run)
    return _html(engine, run, base, comparison)


def _csv(run: dict[str, Any]) -> str:
    out = io.StringIO()
    columns = ["name", "requests", "failures", "error_pct", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms", "avg_ms", "avg_size", "rps", "deviations"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in run["endpoints"] + [run["total"]]:
        writer.writerow(row)
    return out.getvalue()


def _junit(run: dict[str, Any]) -> str:
    """One test case per threshold: CI shows which one failed and by how much."""
    failed = [t for t in run["thresholds"] if not t["held"]]
    suite = ElementTree.Element("testsuite", name=f"replayswarm run {run['id']}", tests=str(len(run["thresholds"])),
                                failures=str(len(failed)), time=f"{run['duration_s']:.3f}")
    for t in run["thresholds"]:
        case = ElementTree.SubElement(suite, "testcase", classname="replayswarm.thresholds", name=t["threshold"])
        if not t["held"]:
            ElementTree.SubElement(case, "failure", message=f"{t['threshold']} failed: measured {t['value']}")
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _inline(path: Path) -> str:
    # Inside <script>, "</script" would end the element early.
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def _html(engine: Engine, run: dict[str, Any], base: dict[str, Any] | None, comparison: dict[str, Any] | None) -> str:
    ui = ui_dir()
    env = Environment(loader=FileSystemLoader(str(ui / "templates")), autoescape=select_autoescape(["html"]))
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    runs = [base, run] if base else [run]
    return env.get_template("report.html").render(
        run=run,
        base=base,
        comparison=comparison,
        series=series(engine, run["id"]),
        compare_series={r["id"]: series(engine, r["id"]) for r in runs},
        runs=runs,
        plotly_js=_inline(plotly_path()),
        app_js=_inline(ui / "static" / "app.js"),
        style=(ui / "static" / "style.css").read_text(encoding="utf-8"),
    )
