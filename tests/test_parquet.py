"""Parquet import and export of traces and verdicts (pyarrow), round-tripped through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

import accord
from accord.cli import app
from tests.conftest import trace_row, write_jsonl


def test_traces_and_verdicts_round_trip_through_parquet(tmp_path: Path) -> None:
    rows = [trace_row(i, label="no" if i % 2 else "yes") for i in range(6)]
    rows[0]["inputs"] = "plain text inputs"  # one column holds dicts and text: written as JSON text
    rows[1]["spans"] = [{"span_id": "s1", "name": "retrieve", "span_type": "RETRIEVER", "outputs": ["doc"]}]
    rows[2]["expectations"] = {"expected_response": "use the returns form"}
    runner = CliRunner()
    assert (
        runner.invoke(app, ["traces", "import", str(write_jsonl(tmp_path / "t.jsonl", rows)), "-e", "src"]).exit_code
        == 0
    )
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: quality\ninstructions: 'Is {{ outputs }} good?'\nmodel: 'fake:'\nfeedback_value_type: bool\n"
    )
    assert runner.invoke(app, ["judges", "run", "--judge", str(spec), "--experiment", "src"]).exit_code == 0

    out = runner.invoke(app, ["traces", "export", "-e", "src", "--out", str(tmp_path / "traces.parquet"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["traces"] == 6
    assert pq.read_table(tmp_path / "traces.parquet").num_rows == 6
    back = runner.invoke(
        app, ["traces", "import", str(tmp_path / "traces.parquet"), "-e", "copy", "--on-conflict", "new-ids"]
    )
    assert back.exit_code == 0, back.output
    copies = {
        t.tags["source_trace_id"]: t
        for t in accord.search_traces(
            experiment_ids=[accord.get_experiment_by_name("copy").experiment_id], return_type="list"
        )
    }
    assert copies["t-0"].inputs == "plain text inputs" and copies["t-3"].inputs == {"question": "question 3"}
    assert copies["t-1"].spans[0].span_type == "RETRIEVER" and copies["t-1"].spans[0].outputs == ["doc"]
    assert copies["t-2"].expectations == {"expected_response": "use the returns form"}
    human = copies["t-1"].search_assessments(name="quality", source_type="HUMAN")
    assert [(a.value, a.source.source_id) for a in human] == [("no", "expert")]
    assert len(copies["t-1"].search_assessments(name="quality", source_type="LLM_JUDGE")) == 1

    verdicts = tmp_path / "verdicts.parquet"
    done = runner.invoke(app, ["feedback", "export", "-e", "src", "--source-type", "LLM_JUDGE", "--out", str(verdicts)])
    assert done.exit_code == 0 and "wrote 6 feedback" in done.output
    table = pq.read_table(verdicts).to_pylist()
    assert {r["source_type"] for r in table} == {"LLM_JUDGE"} and all(
        r["judge_key"].startswith("quality#") for r in table
    )
    assert {json.loads(r["value"]) for r in table} == {True}


def test_a_warehouse_table_with_native_columns_imports_and_a_bad_row_is_named(tmp_path: Path) -> None:
    table = pa.table(
        {
            "trace_id": ["w-1", "w-2", "w-3"],
            "inputs": [{"question": "a"}, {"question": "b"}, {"question": "c"}],  # a struct column
            "outputs": ["answer a", "answer b", "answer c"],
            "session_id": ["s", "s", None],
        }
    )
    pq.write_table(table, tmp_path / "warehouse.parquet")
    result = CliRunner().invoke(app, ["traces", "import", str(tmp_path / "warehouse.parquet"), "-e", "wh"])
    assert result.exit_code == 0, result.output
    assert accord.get_trace("w-2").inputs == {"question": "b"} and accord.get_trace("w-1").session_id == "s"
    labels = pa.table(
        {
            "trace_id": ["w-1", "nope"],
            "name": ["quality", "quality"],
            "value": ["yes", "no"],
            "source_type": ["HUMAN", "HUMAN"],
            "source_id": ["ana", "ana"],
        }
    )
    pq.write_table(labels, tmp_path / "labels.parquet")
    refused = CliRunner().invoke(app, ["feedback", "import", str(tmp_path / "labels.parquet")])
    assert refused.exit_code == 1 and ":2:" in refused.output and "nope" in refused.output
    assert accord.get_trace("w-1").search_assessments(name="quality") == []  # all rows or none
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    broken = CliRunner().invoke(app, ["traces", "import", str(tmp_path / "broken.parquet"), "-e", "wh"])
    assert broken.exit_code == 1 and "not a readable Parquet file" in broken.output
