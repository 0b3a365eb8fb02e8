"""Shared CLI helpers: JSON output, tables, and turning accord's errors into clear messages."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from accord.errors import AccordError

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Expected failures (bad files, unknown names, model errors) print one clear message, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (AccordError, ValueError, FileNotFoundError) as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def confusion_table(labels: list[Any], confusion: list[list[int]], rows_are: str = "humans") -> Table:
    """The confusion matrix as a table: rows are the humans' labels, columns the judge's."""
    table = Table(title=f"confusion (rows: {rows_are}, columns: judge)", title_justify="left")
    table.add_column("")
    for label in labels:
        table.add_column(f"judge {label}")
    for label, row in zip(labels, confusion, strict=True):
        table.add_row(f"{rows_are.rstrip('s')} {label}", *map(str, row))
    return table
