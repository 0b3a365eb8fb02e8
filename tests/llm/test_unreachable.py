"""A model server that refuses connections: named as such, and the run stops early keeping what it stored."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from accord.cli import app
from accord.config import reload_settings
from accord.importing import import_traces
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: connections are refused


def test_a_refused_connection_stops_the_run_with_a_clear_message_and_keeps_what_was_stored(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ACCORD_MAX_RETRIES", "1")
    reload_settings()
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(40)]), "down")
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: quality\ninstructions: Is {{ outputs }} good?\n"
        f"model: 'openai:/any?base_url=http://127.0.0.1:{_closed_port()}/v1'\n"
        "feedback_value_type: Literal['yes', 'no']\n"
    )
    result = CliRunner().invoke(app, ["judges", "run", "-j", str(spec), "-e", "down", "-c", "1"])
    assert result.exit_code == 1
    assert "stopped: 5 verdicts in a row could not reach the model" in result.output
    assert "cannot reach the model server at http://127.0.0.1:" in result.output and "HTTP 500" not in result.output
    stored = get_store().search_assessments(name="quality", source_type="LLM_JUDGE", include_invalid=True)
    assert 5 <= len(stored) < 40 and {a.error.error_code for a in stored} == {"MODEL_UNREACHABLE"}


def test_files_judged_on_threads_stop_too_keeping_the_part_files_written(tmp_path: Path, monkeypatch) -> None:
    import pyarrow.parquet as pq
    import pytest

    from accord.errors import RunStopped
    from accord.evaluation.files import judge_files
    from accord.judges import make_judge

    monkeypatch.setenv("ACCORD_MAX_RETRIES", "0")
    reload_settings()
    judge = make_judge(
        "quality",
        "Is {{ outputs }} good?",
        model=f"openai:/any?base_url=http://127.0.0.1:{_closed_port()}/v1",
        feedback_value_type="bool",
    )
    out = tmp_path / "verdicts"
    with pytest.raises(RunStopped, match="5 verdicts in a row could not reach the model"):
        judge_files(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(40)]), [judge], out, concurrency=1)
    assert 5 <= pq.read_table(out).num_rows < 40  # what finished is written; a re-run judges the rest
