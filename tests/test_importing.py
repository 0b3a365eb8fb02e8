import json
from pathlib import Path

import pytest

import accord
from accord.errors import InputFileError
from accord.importing import import_feedback, import_traces
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl


def test_import_brings_traces_assessments_and_expectations(tmp_path: Path) -> None:
    rows = [trace_row(i) for i in range(3)]
    rows[0]["expectations"] = {"expected_response": "answer 0"}
    rows[1]["session_id"] = "s1"
    report = import_traces(write_jsonl(tmp_path / "t.jsonl", rows), "imported")
    assert (report.imported, report.assessments) == (3, 4)
    trace = accord.get_trace("t-0")
    assert trace.expectations == {"expected_response": "answer 0"}
    human = trace.search_assessments(name="quality", source_type="HUMAN")
    assert human[0].value == "yes" and human[0].source.source_id == "expert"
    assert accord.get_trace("t-1").session_id == "s1"


def test_malformed_lines_are_reported_with_line_and_field_and_nothing_lands(tmp_path: Path) -> None:
    rows = [
        trace_row(1),
        "{not json",
        {"inputs": {"q": "no id"}},
        trace_row(4, extra_field=1),
        {**trace_row(5), "assessments": [{"name": "q", "value": 1, "source": {"type": "ROBOT"}}]},
        trace_row(1),
    ]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputFileError) as caught:
        import_traces(path, "exp")
    problems = {(line, field) for line, field, _ in caught.value.problems}
    assert (2, "(line)") in problems
    assert (3, "trace_id") in problems
    assert (4, "extra_field") in problems
    assert (5, "assessments.0.source.type") in problems
    assert (6, "trace_id") in problems  # duplicate of line 1
    message = str(caught.value)
    assert f"{path}:2" in message and "nothing was imported" in message
    assert get_store().existing_trace_ids(["t-1", "t-4"]) == set()


def test_existing_ids_are_rejected_skipped_replaced_or_copied(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [trace_row(1), trace_row(2)])
    import_traces(path, "exp")
    with pytest.raises(InputFileError, match="already stored"):
        import_traces(path, "exp")
    assert import_traces(path, "exp", on_conflict="skip").skipped == ["t-1", "t-2"]
    assert import_traces(path, "exp", on_conflict="replace", discard_labels=True).replaced == 2
    assert len(accord.get_trace("t-1").assessments) == 1  # replaced, not doubled
    copied = import_traces(path, "other", on_conflict="new-ids")
    assert copied.imported == 2
    copies = accord.search_traces(experiment_ids=[copied.experiment_id])
    assert {t.tags["source_trace_id"] for t in copies} == {"t-1", "t-2"}


def test_ten_thousand_traces_land_whole_or_report_the_bad_line(tmp_path: Path) -> None:
    rows = [trace_row(i) for i in range(10_000)]
    rows[7_321] = {**rows[7_321], "outputs": "x", "tags": {"bad": {"nested": 1}}}
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    with pytest.raises(InputFileError) as caught:
        import_traces(path, "big")
    assert [(line, field) for line, field, _ in caught.value.problems] == [(7_322, "tags")]
    assert get_store().existing_trace_ids(["t-0"]) == set()
    rows[7_321] = trace_row(7_321)
    assert import_traces(write_jsonl(path, rows), "big").imported == 10_000


def test_feedback_import_adds_to_existing_traces_and_rejects_unknown_ids(tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(1)]), "exp")
    good = {
        "trace_id": "t-1",
        "name": "tone",
        "value": 4,
        "rationale": "warm",
        "source": {"type": "HUMAN", "id": "ann"},
    }
    bad = {**good, "trace_id": "t-404"}
    with pytest.raises(InputFileError) as caught:
        import_feedback(write_jsonl(tmp_path / "f.jsonl", [good, bad]))
    assert caught.value.problems == [(2, "trace_id", "no stored trace with id 't-404'")]
    assert accord.get_trace("t-1").search_assessments(name="tone") == []
    assert import_feedback(write_jsonl(tmp_path / "f.jsonl", [good])).assessments == 1
    assert accord.get_trace("t-1").search_assessments(name="tone")[0].value == 4


def test_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no records"):
        import_traces(write_jsonl(tmp_path / "empty.jsonl", []), "exp")
    with pytest.raises(InputFileError, match="No such file"):
        import_traces(tmp_path / "missing.jsonl", "exp")


def test_packaged_demo_data_imports() -> None:
    from accord.demo import DATA

    report = import_traces(DATA, "demo")
    assert report.imported == 100
    assert len(accord.search_traces(experiment_ids=[report.experiment_id], assessment_name="policy_compliant")) == 100


def test_a_line_that_is_not_utf8_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = json.dumps(trace_row(1)).encode()
    path.write_bytes(good + b"\n" + good.replace(b"answer 1", b"answer \xff\xfe") + b"\n")
    with pytest.raises(InputFileError) as caught:
        import_traces(path, "enc")
    assert f"{path}:2: (line): not UTF-8 text" in str(caught.value)


def test_text_that_is_not_unicode_is_refused_at_the_door_and_the_experiment_keeps_working(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from accord.cli import app
    from accord.entities import Feedback, Trace
    from accord.store import get_store

    good = {"trace_id": "ok", "inputs": {"q": "fine"}, "outputs": "fine"}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + '{"trace_id": "bad", "inputs": {"q": "x\\ud800y"}, "outputs": "a"}\n')
    with pytest.raises(accord.AccordError) as caught:
        accord.import_traces(path, "surrogates")
    assert "bad.jsonl:2:" in str(caught.value) and "inputs.q has a lone surrogate (U+D800)" in str(caught.value)
    feedback = tmp_path / "feedback.jsonl"
    path.write_text(json.dumps(good) + "\n")
    accord.import_traces(path, "surrogates")
    feedback.write_text('{"trace_id": "ok", "name": "q", "value": "y", "rationale": "\\udfff"}\n')
    with pytest.raises(accord.AccordError, match=r"feedback.jsonl:1: .*rationale has a lone surrogate"):
        accord.import_feedback(feedback)
    store = get_store()
    experiment_id = store.resolve_experiment("surrogates").experiment_id
    with pytest.raises(ValueError, match=r"trace 'api': inputs.q has a lone surrogate"):
        store.insert_traces([Trace(trace_id="api", inputs={"q": "\ud800"}, outputs="a")], experiment_id)
    with pytest.raises(ValueError, match="feedback 'tone' on trace 'ok': rationale has a lone surrogate"):
        accord.log_feedback(trace_id="ok", name="tone", value="warm", rationale="\udfff")
    assert isinstance(Feedback(name="x", value="\ud800"), Feedback)  # in memory it is a string like any other
    listed = CliRunner().invoke(app, ["traces", "list", "-e", "surrogates"])
    assert listed.exit_code == 0 and "ok" in listed.output


def test_replacing_traces_experts_labelled_needs_a_flag_that_says_so(tmp_path: Path) -> None:
    from accord.store import get_store

    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"trace_id": "t1", "inputs": "q", "outputs": "a"}) + "\n")
    accord.import_traces(path, "labels")
    accord.log_feedback(
        trace_id="t1", name="ok", value="yes", source=accord.AssessmentSource(source_type="HUMAN", source_id="ann")
    )
    path.write_text(json.dumps({"trace_id": "t1", "inputs": "q2", "outputs": "a2"}) + "\n")
    with pytest.raises(accord.AccordError, match=r"would delete the expert labels on 1 stored traces \('t1'\)"):
        accord.import_traces(path, "labels", on_conflict="replace")
    stored = get_store().get_traces(["t1"])[0]
    assert stored.inputs == "q" and stored.search_assessments(source_type="HUMAN")  # nothing lost
    report = accord.import_traces(path, "labels", on_conflict="replace", discard_labels=True)
    assert report.replaced == 1 and get_store().get_traces(["t1"])[0].inputs == "q2"


def test_hostile_lines_are_named_by_number_and_counted_once(tmp_path: Path) -> None:
    deep = "[" * 1500 + "]" * 1500
    path = tmp_path / "hostile.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"trace_id": "ok", "inputs": "q", "outputs": "a"}),
                '{"trace_id": "deep", "inputs": ' + deep + ', "outputs": "a"}',
                json.dumps({"trace_id": "late", "inputs": "q", "outputs": "a", "request_time_ms": 10**30}),
                json.dumps({"trace_id": "", "inputs": "q", "outputs": "a", "status": "WEIRD"}),  # two problems
            ]
        )
        + "\n"
    )
    with pytest.raises(InputFileError) as caught:
        import_traces(path, "hostile")
    message = str(caught.value)
    assert message.startswith("3 of 4 lines in") and "Traceback" not in message
    assert "hostile.jsonl:2: (line): JSON nested too deep to read" in message
    assert "hostile.jsonl:3: request_time_ms" in message


def test_parquet_binary_huge_and_bad_json_columns_are_refused_by_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from accord.parquet_files import JSON_COLUMNS_KEY

    table = pa.table(
        {
            "trace_id": ["a", "b", "c"],
            "inputs": ['{"q": 1}', "{not json", '"fine"'],
            "outputs": ["x", "y", "z"],
            "blob": pa.array([None, None, b"\x00\x01"], type=pa.binary()),
            "request_time_ms": pa.array([1, 2, 2**64 - 1], type=pa.uint64()),
        }
    ).replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(["inputs"]).encode()})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputFileError) as caught:
        import_traces(path, "parquet")
    message = str(caught.value)
    assert "2 of 3 lines" in message and "t.parquet:2: (line): column 'inputs' is not valid JSON" in message
    assert "t.parquet:3: (line): column 'blob' holds binary data" in message
