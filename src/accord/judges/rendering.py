"""How trace content is shown to a judge: compact, bounded, and the same for every judge."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from accord.entities import Span, Trace

MAX_SECTION_CHARS = 6000
MAX_SPAN_VALUE_CHARS = 300

# Untrusted content must not be able to close the section it sits in, open a new one, or speak the chat
# template's own control tokens (which a local model's tokenizer would read as real turns).
_SECTION_TAG = re.compile(r"<(/\s*)?([A-Za-z_][\w\-]*)(?=[^<>\n]{0,200}>)", re.ASCII)
_CONTROL_TOKEN = re.compile(r"<\|[^|<>]{0,40}\|>|\[/?INST\]|<</?SYS>>|</?s>")


def fence(text: str) -> str:
    """Content made safe to place inside a tagged section: tag-like `<name ...>` / `</name>` become
    `‹name ...›`-style look-alikes and chat-template control tokens are broken up; what the text says is kept."""
    text = _CONTROL_TOKEN.sub(
        lambda m: m.group(0).replace("<", "‹").replace(">", "›").replace("[", "⟦").replace("]", "⟧"), text
    )
    return _SECTION_TAG.sub(lambda m: f"‹{m.group(1) or ''}{m.group(2)}", text)


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" …[{len(text) - limit} more characters cut]"


def render_value(value: Any, limit: int = MAX_SECTION_CHARS) -> str:
    """Strings as they are; a one-key dict as its value; anything else as indented JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if isinstance(inner, str):
            return clip(f"{key}: {inner}", limit)
    if isinstance(value, str):
        return clip(value, limit)
    return clip(json.dumps(value, ensure_ascii=False, indent=1, default=str), limit)


def _one_line(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return clip(" ".join(text.split()), MAX_SPAN_VALUE_CHARS)


def span_order(spans: Sequence[Span]) -> list[tuple[int, Span]]:
    """(depth, span) in tree order: children under their parents, each level in start order. Walked with
    an explicit stack (a chain of thousands of spans is no recursion), and a span whose parents form a cycle
    is shown from where the cycle is entered, so every span appears exactly once."""
    children: dict[str | None, list[Span]] = defaultdict(list)
    ids = {s.span_id for s in spans}
    ordered = sorted(spans, key=lambda s: s.start_time_ms)
    for span in ordered:
        children[span.parent_id if span.parent_id in ids and span.parent_id != span.span_id else None].append(span)
    found: list[tuple[int, Span]] = []
    seen: set[str] = set()

    def walk(roots: list[Span]) -> None:
        stack = [(0, span) for span in reversed(roots)]
        while stack:
            depth, span = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            found.append((depth, span))
            stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))

    walk(children.get(None, []))
    for span in ordered:  # spans whose parents form a cycle: entered at the earliest one
        if span.span_id not in seen:
            walk([span])
    return found


def render_span_tree(spans: Sequence[Span], limit: int = MAX_SECTION_CHARS) -> str:
    """One line per span, indented by depth: name [type] (duration) in → out, errors marked."""
    lines: list[str] = []
    for depth, span in span_order(spans):
        took = f" ({span.end_time_ms - span.start_time_ms} ms)" if span.end_time_ms else ""
        error = " ERROR" if span.status == "ERROR" else ""
        line = f"{'  ' * min(depth, 40)}- {span.name} [{span.span_type}]{took}{error}"
        if depth > 40:
            line += f" (depth {depth})"
        if span.inputs is not None:
            line += f" in: {_one_line(span.inputs)}"
        if span.outputs is not None:
            line += f" → out: {_one_line(span.outputs)}"
        for event in span.events:
            if event.get("name") == "exception":
                line += f" !! {event.get('type')}: {_one_line(event.get('message', ''))}"
        lines.append(line)
        if sum(len(x) + 1 for x in lines) > limit:  # long enough: clip below, stop building
            break
    return clip("\n".join(lines) or "(no spans)", limit)


def render_trace(trace: Trace, limit: int = MAX_SECTION_CHARS) -> str:
    head = f"inputs: {_one_line(trace.inputs)}\noutputs: {_one_line(trace.outputs)}\nspans:\n"
    return clip(head + render_span_tree(trace.spans), limit)


def render_conversation(session: Sequence[Trace], limit: int = MAX_SECTION_CHARS) -> str:
    """The turns of a session in time order: what the user said, what the assistant answered."""
    turns = []
    for number, trace in enumerate(sorted(session, key=lambda t: t.request_time_ms), start=1):
        answer = render_value(trace.outputs, 1500)
        turns.append(f"[turn {number}] user: {_one_line(trace.inputs)}\n[turn {number}] assistant: {answer}")
    return clip("\n".join(turns) or "(empty conversation)", limit)


def retrieved_documents(trace: Trace) -> list[str]:
    """Texts returned by the trace's RETRIEVER spans (documents as strings or dicts with page_content)."""
    docs: list[str] = []
    for span in trace.spans:
        if span.span_type != "RETRIEVER" or span.outputs is None:
            continue
        outputs = span.outputs if isinstance(span.outputs, list) else [span.outputs]
        for doc in outputs:
            if isinstance(doc, dict):
                docs.append(str(doc.get("page_content") or doc.get("content") or doc.get("text") or json.dumps(doc)))
            else:
                docs.append(str(doc))
    return docs
