"""The type of a judge's verdict: bool, str, int, float or categories (`Literal["good", "bad"]`).

Each type knows its JSON-schema fragment (so the model's answer is constrained), how to check and
coerce an answer, how to describe itself to the model, and how to serialize itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

_SCALARS = {"bool": bool, "str": str, "int": int, "float": float}


@dataclass(frozen=True)
class ValueType:
    kind: str  # "bool" | "str" | "int" | "float" | "categorical"
    categories: tuple[Any, ...] = ()

    # construction ------------------------------------------------------------------------------------
    @classmethod
    def of(cls, spec: Any) -> ValueType:
        """From a Python type, `Literal[...]`, a list of categories, a dict from `to_dict`, or a string
        such as "bool" or "Literal['excellent', 'good', 'fair', 'poor']"."""
        if isinstance(spec, ValueType):
            return spec
        if spec is None:
            return cls("str")
        if get_origin(spec) is Literal:
            return cls._categorical(get_args(spec))
        if isinstance(spec, type):
            for name, py_type in _SCALARS.items():
                if spec is py_type:
                    return cls(name)
        if isinstance(spec, (list, tuple)):
            return cls._categorical(tuple(spec))
        if isinstance(spec, dict) and "kind" in spec:
            return cls(spec["kind"], tuple(spec.get("categories", ())))
        if isinstance(spec, str):
            text = spec.strip()
            if text in _SCALARS:
                return cls(text)
            if text.startswith("Literal[") and text.endswith("]"):
                try:
                    values = ast.literal_eval("(" + text[len("Literal[") : -1] + ",)")
                except (ValueError, SyntaxError):
                    values = None
                if values:
                    return cls._categorical(tuple(values))
        raise ValueError(
            f"unsupported feedback_value_type {spec!r}: use bool, str, int, float or Literal['a', 'b', ...]"
        )

    @classmethod
    def _categorical(cls, values: tuple[Any, ...]) -> ValueType:
        if len(values) < 2 or len(set(values)) != len(values):
            raise ValueError(f"categories must be two or more distinct values, got {values!r}")
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise ValueError(f"categories must be strings or numbers, got {values!r}")
        return cls("categorical", tuple(values))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **({"categories": list(self.categories)} if self.categories else {})}

    def __str__(self) -> str:
        if self.kind == "categorical":
            return "Literal[" + ", ".join(repr(c) for c in self.categories) + "]"
        return self.kind

    # talking to the model ----------------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"enum": list(self.categories)}
        return {
            "bool": {"type": "boolean"},
            "str": {"type": "string", "maxLength": 120},
            "int": {"type": "integer"},
            "float": {"type": "number"},
        }[self.kind]

    def describe(self) -> str:
        if self.kind == "categorical":
            return "exactly one of " + ", ".join(
                repr(c) if not isinstance(c, str) else f'"{c}"' for c in self.categories
            )
        return {
            "bool": "true or false",
            "str": "a short string",
            "int": "an integer",
            "float": "a number",
        }[self.kind]

    # checking answers --------------------------------------------------------------------------------
    def coerce(self, value: Any) -> Any:
        """The answer as this type; `ValueError` naming the type when it cannot be one."""
        if self.kind == "categorical":
            if value in self.categories:
                return value
            if isinstance(value, str):
                for category in self.categories:
                    if isinstance(category, str) and category.lower() == value.strip().lower():
                        return category
            raise ValueError(f"{value!r} is not one of {list(self.categories)}")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
                return value.strip().lower() in ("true", "yes")
            raise ValueError(f"{value!r} is not true or false")
        if self.kind == "int":
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not an integer")
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value.strip())
            raise ValueError(f"{value!r} is not an integer")
        if self.kind == "float":
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not a number")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not a number") from None
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a string")
        return value
