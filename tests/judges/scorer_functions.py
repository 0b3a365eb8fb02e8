"""Scorer functions that judge spec files name by import path in the tests."""

from __future__ import annotations

from typing import Any


def polite(outputs: Any) -> bool:
    return "thank" in str(outputs).lower()


def broken(outputs: Any) -> bool:
    raise RuntimeError("this scorer has a bug")
