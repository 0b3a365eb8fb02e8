"""Text that cannot be stored: a lone surrogate ("\\ud800", from a JSON escape or a broken client) is a Python
string but not Unicode that UTF-8 can hold. Accepted once, it broke every page and listing of its experiment,
so it is refused at the door, naming where it is."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 200  # deeper values are reported by the importer's own nesting check, not walked here


def unencodable(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Where in `value` the first string UTF-8 cannot encode is ("inputs.question[2]"), with what is wrong;
    None when every string (keys included) is fine."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            return f"{path or 'the value'} has a lone surrogate (U+{ord(bad):04X}) at character {exc.start}"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unencodable(key, f"{path} key" if path else "a key", depth + 1) or unencodable(
                item, f"{path}.{key}" if path else str(key), depth + 1
            )
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = unencodable(item, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


def refuse_unencodable(what: str, **fields: Any) -> None:
    """Raise a ValueError naming `what` ("trace 't1'") and the field, when any field holds such text."""
    for name, value in fields.items():
        found = unencodable(value, name)
        if found:
            raise ValueError(f"{what}: {found}, which cannot be stored as text; nothing was stored")
