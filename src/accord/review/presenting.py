"""How traces and verdict values are shown on the page, and how a posted value is read back."""

from __future__ import annotations

import json
from typing import Any

from accord.entities import Span
from accord.judges.rendering import span_order
from accord.judges.value_types import ValueType


def value_label(value: Any) -> str:
    """One spelling per verdict value, for filters and display: true/false, numbers, strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def value_choices(value_type: ValueType) -> list[tuple[str, str]]:
    """(value as posted, label on the button) for value types with a fixed set of values; [] for open ones."""
    if value_type.kind == "bool":
        return [("true", "Yes"), ("false", "No")]
    if value_type.kind == "categorical":
        return [(value_label(c), str(c)) for c in value_type.categories]
    return []


def parse_value(value_type: ValueType, posted: str) -> Any:
    """The posted text as a value of the type; `ValueError` naming the allowed values otherwise."""
    for value, _ in value_choices(value_type):
        if value_type.kind == "categorical" and value == posted:
            return next(c for c in value_type.categories if value_label(c) == posted)
    if not posted.strip():
        raise ValueError("choose a value before saving")
    return value_type.coerce(posted)


MAX_NESTING = 40  # deeper spans are shown at this depth (marked), so the page's nesting stays bounded


def span_tree(spans: list[Span]) -> list[dict[str, Any]]:
    """Spans nested under their parents (orphans at the top), in start order; built without recursion and
    safe against parent cycles (`span_order`)."""
    top: list[dict[str, Any]] = []
    path: list[dict[str, Any]] = []  # the open node at each depth
    for depth, span in span_order(spans):
        node = {"span": span, "children": [], "depth": depth}
        shown = min(depth, MAX_NESTING)
        del path[shown:]
        (path[-1]["children"] if path else top).append(node)
        if shown < MAX_NESTING:
            path.append(node)
    return top


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def preview(value: Any, width: int = 160) -> str:
    text = " ".join((value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)).split())
    return text if len(text) <= width else text[: width - 1] + "…"
