"""Label schemas: a feedback name's allowed values, declared once per experiment; experts' labels outside it
are refused with the allowed values named, wherever they come from (code, a file, the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.entities import AssessmentSource, AssessmentSourceType
from accord.errors import InputFileError
from accord.importing import import_feedback, import_traces
from tests.conftest import trace_row, write_jsonl

EXPERT = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="maria")


def _experiment(tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(4)]), "labels")


def test_labels_outside_a_declared_schema_are_refused_naming_the_allowed_values(tmp_path: Path) -> None:
    _experiment(tmp_path)
    accord.log_feedback("t-0", name="grade", value="excellent", source=EXPERT)  # before any schema
    outside = accord.set_label_schema("grade", "Literal['good', 'fair', 'poor']", experiment="labels")
    assert outside == ["excellent"]  # reported, and kept
    assert str(accord.get_label_schema("grade", experiment="labels")) == "Literal['good', 'fair', 'poor']"
    with pytest.raises(ValueError, match=r"feedback 'grade' on trace t-1 takes Literal\['good', 'fair', 'poor'\]"):
        accord.log_feedback("t-1", name="grade", value="godo", source=EXPERT)
    assert accord.log_feedback("t-1", name="grade", value="Fair", source=EXPERT).value == "fair"
    assert accord.log_feedback("t-2", name="grade", value="godo").value == "godo"  # CODE feedback: not a label
    assert accord.log_feedback("t-2", name="tone", value="anything", source=EXPERT).value == "anything"
    lines = [
        {"trace_id": "t-3", "name": "grade", "value": "poor", "source": {"type": "HUMAN", "id": "kim"}},
        {"trace_id": "t-3", "name": "grade", "value": "great", "source": {"type": "HUMAN", "id": "kim"}},
    ]
    with pytest.raises(InputFileError) as caught:  # a file of labels: the bad line named, nothing stored
        import_feedback(write_jsonl(tmp_path / "f.jsonl", lines))
    assert "f.jsonl:2: value:" in str(caught.value) and "'great' is not one of" in str(caught.value)
    assert not accord.get_trace("t-3").search_assessments(name="grade")
    assert accord.delete_label_schema("grade", experiment="labels") is True
    assert accord.log_feedback("t-1", name="grade", value="godo", source=EXPERT).value == "godo"
    with pytest.raises(ValueError, match="categories must be two or more distinct values"):
        accord.set_label_schema("grade", "Literal['only one']", experiment="labels")


def test_accord_feedback_schema_declares_shows_lists_and_removes(tmp_path: Path) -> None:
    _experiment(tmp_path)
    runner = CliRunner()
    declared = runner.invoke(app, ["feedback", "schema", "-e", "labels", "grade", "Literal['good', 'poor']"])
    assert declared.exit_code == 0 and "grade: Literal['good', 'poor']" in declared.output
    listed = runner.invoke(app, ["feedback", "schema", "-e", "labels", "--json"])
    assert json.loads(listed.stdout) == {"grade": "Literal['good', 'poor']"}
    shown = runner.invoke(app, ["feedback", "schema", "-e", "labels", "grade"])
    assert "Literal['good', 'poor']" in shown.output
    bad = runner.invoke(app, ["feedback", "schema", "-e", "labels", "tone", "colour"])
    assert bad.exit_code == 1 and "unsupported feedback_value_type 'colour'" in bad.output
    removed = runner.invoke(app, ["feedback", "schema", "-e", "labels", "grade", "--delete"])
    assert removed.exit_code == 0 and "removed the label schema for 'grade'" in removed.output
    assert json.loads(runner.invoke(app, ["feedback", "schema", "-e", "labels", "--json"]).stdout) == {}
