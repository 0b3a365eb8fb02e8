"""The answer format every judge asks for — `{"rationale": ..., "result": ...}` — and its parser.

The rationale comes first (the model reasons, then decides) unless a judge asks for the result first
(`MemAlignOptimizer(result_first=True)`), and it is bounded in the schema, so a
grammar-constrained local model can never loop until the token cap and cut the JSON. When a hosted model
still returns broken JSON, a verdict that already began (`"result": "no"`) is salvaged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from accord.errors import OutputParseError
from accord.judges.value_types import ValueType

RATIONALE_MAX_CHARS = 400
_RESULT = re.compile(r'"result"\s*:\s*("(?:[^"\\]|\\.)*"|true|false|-?\d+(?:\.\d+)?)')
_RATIONALE = re.compile(r'"rationale"\s*:\s*"((?:[^"\\]|\\.)*)')


@dataclass
class ParsedVerdict:
    value: Any
    rationale: str
    salvaged: bool = False


def verdict_schema(
    value_type: ValueType, rationale_max_chars: int = RATIONALE_MAX_CHARS, result_first: bool = False
) -> dict[str, Any]:
    """The answer's JSON schema; a grammar-constrained model writes the fields in this order."""
    fields = {
        "rationale": {"type": "string", "maxLength": rationale_max_chars},
        "result": value_type.json_schema(),
    }
    order = ["result", "rationale"] if result_first else ["rationale", "result"]
    return {
        "type": "object",
        "properties": {name: fields[name] for name in order},
        "required": order,
        "additionalProperties": False,
    }


def reply_format(value_type: ValueType, result_first: bool = False) -> str:
    """The system prompt's description of the answer, in the schema's field order."""
    rationale = f'"rationale": your reasoning in one or two short sentences (at most {RATIONALE_MAX_CHARS} characters)'
    result = f'"result": {value_type.describe()}'
    first, second = (result, rationale) if result_first else (rationale, result)
    return f"Reply with a JSON object with two fields:\n{first};\n{second}."


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = re.sub(r"^```(?:json)?\s*", "", text)
        text = re.sub(r"\s*```$", "", text)
    return text


def parse_verdict(text: str, value_type: ValueType) -> ParsedVerdict:
    """The verdict in `text`, coerced to the judge's type; `OutputParseError` saying why not."""
    cleaned = _strip_fences(text)
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError:
        start, end = cleaned.find("{"), cleaned.rfind("}")
        try:
            data = json.loads(cleaned[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
    if isinstance(data, dict):
        if "result" not in data:
            raise OutputParseError("the answer has no 'result' field", text)
        try:
            value = value_type.coerce(data["result"])
        except ValueError as exc:
            raise OutputParseError(f"wrong value type for a {value_type} judge: {exc}", text) from None
        return ParsedVerdict(value=value, rationale=str(data.get("rationale") or ""))
    match = _RESULT.search(cleaned)
    if match is None:
        raise OutputParseError("the answer is not JSON with a 'result'", text)
    try:
        value = value_type.coerce(json.loads(match.group(1)))
    except (ValueError, json.JSONDecodeError) as exc:
        raise OutputParseError(f"wrong value type for a {value_type} judge: {exc}", text) from None
    rationale = _RATIONALE.search(cleaned)
    return ParsedVerdict(value=value, rationale=rationale.group(1) if rationale else "", salvaged=True)
