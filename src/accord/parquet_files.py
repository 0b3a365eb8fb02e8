"""Traces and verdicts as Parquet (`pip install 'accord[parquet]'`), for data that comes from or goes to a
warehouse. The columns are those of the traces and feedback JSONL.

Reading takes Parquet's own types as they are (a struct column is a dict, a list column a list). Nested
values that one column cannot type (inputs that are a dict in one row and text in the next) are written
as JSON text, and the file's schema metadata `accord.json_columns` names those columns, so reading them
back gives the values that were written. A path may be one file or a folder of part files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from accord.errors import ConfigError, InputFileError

JSON_COLUMNS_KEY = b"accord.json_columns"


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError("Parquet needs pyarrow: pip install 'accord[parquet]'") from exc
    return pa, pq


def is_parquet(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() in (".parquet", ".pq") or (path.is_dir() and any(path.glob("*.parquet")))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.parquet"))
    return [path]


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number from 1, row) of a Parquet file or folder, JSON-text columns decoded; a row that cannot be
    read (bad JSON in a JSON column, binary data, a number too large) comes as a string saying why."""
    _, pq = _pyarrow()
    path = Path(path)
    number = 0
    for file in _files(path):
        try:
            table = pq.read_table(file)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InputFileError(str(file), [(0, "(file)", f"not a readable Parquet file: {exc}")], 0) from None
        meta = table.schema.metadata or {}
        json_columns = set(json.loads(meta.get(JSON_COLUMNS_KEY, b"[]")))
        for row in table.to_pylist():
            number += 1
            yield number, _decoded(row, json_columns)


MAX_INT = 2**63 - 1


def _decoded(row: dict[str, Any], json_columns: set[str]) -> dict[str, Any] | str:
    for column in sorted(json_columns & set(row)):
        if isinstance(row[column], str):
            try:
                row[column] = json.loads(row[column])
            except json.JSONDecodeError as exc:
                return f"column {column!r} is not valid JSON: {exc.msg} at character {exc.pos}"
            except RecursionError:
                return f"column {column!r} is JSON nested too deep"
    for column, value in row.items():
        if isinstance(value, (bytes, bytearray)):
            return f"column {column!r} holds binary data; accord stores text, numbers and JSON"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            return f"column {column!r} holds {value}, larger than a 64-bit integer"
    return {k: v for k, v in row.items() if v is not None}


def _write(rows: list[dict[str, Any]], json_columns: Sequence[str], path: Path) -> None:
    pa, pq = _pyarrow()
    encoded = [
        {k: json.dumps(v, default=str) if k in json_columns and v is not None else v for k, v in row.items()}
        for row in rows
    ]
    table = pa.Table.from_pylist(encoded)
    table = table.replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(list(json_columns)).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    pq.write_table(table, temporary)
    temporary.replace(path)  # a crash never leaves half a file behind


def write_rows(rows: list[dict[str, Any]], json_columns: Sequence[str], path: str | Path) -> None:
    """Rows as one Parquet file, written whole or not at all; `json_columns` as JSON text."""
    _write(rows, json_columns, Path(path))
