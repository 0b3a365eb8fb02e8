"""`accord report`: the alignment view as one self-contained HTML file (styles inlined, charts as SVG)."""

from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from accord.judges import Judge
from accord.review import charts
from accord.review.app import HERE
from accord.review.dashboard import Dashboard, build_dashboard
from accord.review.presenting import pretty, preview, value_label
from accord.store import get_store


def render_report(board: Dashboard) -> str:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.globals.update(pretty=pretty, preview=preview, value_label=value_label, charts=charts)
    css = (HERE / "static" / "review.css").read_text()
    generated = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    return env.get_template("report.html").render(board=board, css=css, generated=generated)


def write_report(experiment: str, judge: Judge, out: str | Path) -> Dashboard:
    """Write the report for `judge` on the experiment's stored verdicts and feedback; returns its figures."""
    found = get_store().resolve_experiment(experiment)
    board = build_dashboard(found.experiment_id, found.name, judge)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(board), encoding="utf-8")
    tmp.replace(path)  # never a half-written report
    return board
