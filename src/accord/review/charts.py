"""Charts as inline SVG, drawn on the server: no script, no external file, the same in the page and the report.

Every piece of text is escaped here, because labels (category names, judge names) come from users.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from accord.review.dashboard import VersionAgreement

_WIDTH = 640
_ROW = 28


def _text(x: float, y: float, content: Any, anchor: str = "start", cls: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{escape(str(content))}</text>'


def _kappa_x(kappa: float, left: float, width: float) -> float:
    return left + (max(-1.0, min(1.0, kappa)) + 1.0) / 2.0 * width


def kappa_chart(versions: Sequence[VersionAgreement]) -> Markup:
    """Cohen's kappa per judge version, with its 95% bootstrap interval as a whisker."""
    scored = [v for v in versions if v.agreement is not None and v.agreement.kappa_defined]
    if not scored:
        return Markup('<p class="muted">No judge version has verdicts on labelled traces yet.</p>')
    left, width = 190, _WIDTH - 190 - 190  # room for labels on the left and figures on the right
    height = 40 + _ROW * len(scored)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg"><title>Cohen\'s kappa per judge version</title>'
    ]
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = _kappa_x(tick, left, width)
        parts.append(f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height - 14}" class="grid"/>')
        parts.append(_text(x, height - 2, f"{tick:g}", "middle", "axis"))
    zero = _kappa_x(0.0, left, width)
    for row, version in enumerate(scored):
        assert version.agreement is not None
        y = 24 + row * _ROW
        kappa = version.agreement.cohen_kappa
        low, high = version.agreement.kappa_ci
        x = _kappa_x(kappa, left, width)
        parts.append(_text(left - 8, y + 14, version.label, "end", "label"))
        parts.append(
            f'<rect x="{min(x, zero):.1f}" y="{y + 4}" width="{abs(x - zero):.1f}" height="{_ROW - 10}" class="bar"/>'
        )
        lx, hx = _kappa_x(low, left, width), _kappa_x(high, left, width)
        parts.append(f'<line x1="{lx:.1f}" y1="{y + 9}" x2="{hx:.1f}" y2="{y + 9}" class="whisker"/>')
        parts.append(_text(hx + 6, y + 14, f"{kappa:.2f} [{low:.2f}, {high:.2f}] n={version.agreement.n}", cls="value"))
    parts.append("</svg>")
    return Markup("".join(parts))


def learning_curve(points: Sequence[VersionAgreement]) -> Markup:
    """Kappa (with interval band) against the number of feedback examples each version learned from."""
    scored = [p for p in points if p.agreement is not None and p.agreement.kappa_defined]
    if len(scored) < 2:
        return Markup('<p class="muted">The curve needs at least two scored versions (align more than once).</p>')
    left, top, width, height = 50, 16, _WIDTH - 80, 200
    full = height + 60
    most = max(p.n_examples for p in scored) or 1

    def at(n: int, kappa: float) -> tuple[float, float]:
        return left + n / most * width, top + (1 - (max(-1.0, min(1.0, kappa)) + 1) / 2) * height

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {full}" width="{_WIDTH}" height="{full}" '
        'xmlns="http://www.w3.org/2000/svg"><title>Learning curve: kappa against feedback examples</title>'
    ]
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        _, y = at(0, tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 6, y + 4, f"{tick:g}", "end", "axis"))
    band_top = [at(p.n_examples, p.agreement.kappa_ci[1]) for p in scored if p.agreement]
    band_low = [at(p.n_examples, p.agreement.kappa_ci[0]) for p in reversed(scored) if p.agreement]
    parts.append(
        '<polygon class="band" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in band_top + band_low) + '"/>'
    )
    line = [at(p.n_examples, p.agreement.cohen_kappa) for p in scored if p.agreement]
    parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in line) + '"/>')
    for point, (x, y) in zip(scored, line, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot"><title>{escape(point.label)}</title></circle>'
        )
        parts.append(_text(x, top + height + 16, point.n_examples, "middle", "axis"))
    parts.append(_text(left + width / 2, top + height + 36, "feedback examples", "middle", "axis"))
    parts.append("</svg>")
    return Markup("".join(parts))


def confusion_table(labels: Sequence[Any], confusion: Sequence[Sequence[int]]) -> Markup:
    """The confusion matrix as a table (rows: humans, columns: judge), cells shaded by share of their row."""
    head = "".join(f"<th>judge {escape(str(label))}</th>" for label in labels)
    rows = []
    for i, (label, counts) in enumerate(zip(labels, confusion, strict=True)):
        total = sum(counts) or 1
        cells = "".join(
            f'<td class="shade-{min(5, round(5 * count / total))}{" diag" if i == j else ""}">{count}</td>'
            for j, count in enumerate(counts)
        )
        rows.append(f"<tr><th>human {escape(str(label))}</th>{cells}</tr>")
    return Markup(f'<table class="confusion"><tr><th></th>{head}</tr>{"".join(rows)}</table>')


_SERIES_CLASSES = ("s0", "s1", "s2", "s3", "s4")


def monitor_chart(points: Sequence[dict[str, Any]]) -> Markup:
    """`accord monitor`'s figures over time: kappa (where human feedback arrived), error rate and verdict
    rates, each a line on a 0 to 1 scale (a kappa below 0 is drawn at 0, its value in the point's title)."""
    if len(points) < 2:
        return Markup('<p class="muted">Run <code>accord monitor</code> for at least two cycles to see a chart.</p>')
    names: list[str] = []
    for point in points:
        for key, value in point["figures"].items():
            wanted = key in ("kappa", "errors") or key.endswith("_rate")
            if wanted and isinstance(value, (int, float)) and key not in names:
                names.append(key)
    names = sorted(names, key=lambda n: (n != "kappa", n != "errors", n))[: len(_SERIES_CLASSES)]
    left, top, width, height = 50, 16, _WIDTH - 160, 180
    first, last = points[0]["time_ms"], points[-1]["time_ms"]
    span = max(1, last - first)

    def at(time_ms: int, value: float) -> tuple[float, float]:
        return left + (time_ms - first) / span * width, top + (1 - max(0.0, min(1.0, value))) * height

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height + 50}" width="{_WIDTH}" height="{height + 50}" '
        'xmlns="http://www.w3.org/2000/svg"><title>Monitored figures over time</title>'
    ]
    for tick in (0.0, 0.5, 1.0):
        _, y = at(first, tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 6, y + 4, f"{tick:g}", "end", "axis"))
    for cls, name in zip(_SERIES_CLASSES, names, strict=False):
        found = [
            (p["time_ms"], float(p["figures"][name]))
            for p in points
            if isinstance(p["figures"].get(name), (int, float))
        ]
        coords = [at(t, v) for t, v in found]
        parts.append(
            f'<polyline class="series {cls}" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>'
        )
        for (x, y), (_, value) in zip(coords, found, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="series-dot {cls}">'
                f"<title>{escape(name)} {value:g}</title></circle>"
            )
        ly = top + 14 + 16 * names.index(name)
        parts.append(
            f'<line x1="{left + width + 12}" y1="{ly - 4}" x2="{left + width + 30}" '
            f'y2="{ly - 4}" class="series {cls}"/>'
        )
        parts.append(_text(left + width + 36, ly, name, cls="label"))
    for stamp, anchor in ((first, "start"), (last, "end")):
        x, _ = at(stamp, 0)
        parts.append(
            _text(x, top + height + 18, time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp / 1000)), anchor, "axis")
        )
    parts.append("</svg>")
    return Markup("".join(parts))
