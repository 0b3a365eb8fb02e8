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


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, row) of a Parquet file or folder, JSON-text columns decoded."""
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
            for column in json_columns & set(row):
                if isinstance(row[column], str):
                    row[column] = json.loads(row[column])
            yield number, {k: v for k, v in row.items() if v is not None}


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
