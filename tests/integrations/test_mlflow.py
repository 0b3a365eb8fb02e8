"""MLflow in and out against a real `mlflow server` on 127.0.0.1: traces made with MLflow's own API are
imported (incrementally), judged, exported back as feedback and read again with `mlflow.search_traces`;
an accord judge runs inside `mlflow.genai.evaluate` as a scorer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.evaluation import evaluate
from accord.judges import make_judge
from accord.metrics import human_label


@pytest.fixture
def tracking(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """MLflow's own client pointed at the test server (the test process plays the user's application)."""
    import mlflow

    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow
    mlflow.set_tracking_uri(None)


def _answer(mlflow: object, i: int) -> str:
    import mlflow as m

    with m.start_span(name="support_answer", span_type="CHAIN") as root:
        root.set_inputs({"question": f"My order {i} arrived broken"})
        with m.start_span(name="draft", span_type="LLM") as child:
            child.set_inputs({"prompt": f"order {i}"})
            text = "I have issued a full refund." if i % 2 == 0 else "Please use the returns form."
            child.set_outputs(text)
        root.set_outputs(text)
        return root.trace_id


def _log_feedback(trace_id: str, value: str, who: str, kind: str = "HUMAN") -> None:
    import mlflow
    from mlflow.entities import AssessmentSource

    mlflow.log_feedback(
        trace_id=trace_id,
        name="policy",
        value=value,
        rationale="promises a refund" if value == "no" else "explains the process",
        source=AssessmentSource(source_type=kind, source_id=who),
    )


def test_traces_from_mlflow_are_judged_and_their_verdicts_go_back(tracking, mlflow_server: str) -> None:  # type: ignore[no-untyped-def]
    from accord.integrations import mlflow as accord_mlflow

    mlflow = tracking
    mlflow.set_experiment("shop")  # type: ignore[attr-defined]
    ids = [_answer(mlflow, i) for i in range(12)]
    for i, trace_id in enumerate(ids[:10]):
        _log_feedback(trace_id, "no" if i % 2 == 0 else "yes", "ana")
    _log_feedback(ids[10], "yes", "some-judge", kind="LLM_JUDGE")
    mlflow.log_expectation(trace_id=ids[0], name="expected_response", value="Use the returns form.")  # type: ignore[attr-defined]

    report = accord_mlflow.import_traces(mlflow_server, "shop", experiment="shop")
    assert (report.imported, report.already_stored) == (12, 0) and report.assessments == 12
    first = accord.get_trace(ids[0])
    assert first.inputs == {"question": "My order 0 arrived broken"} and first.outputs == "I have issued a full refund."
    assert [s.name for s in first.spans] == ["support_answer", "draft"] and first.spans[1].parent_id == first.spans[
        0
    ].span_id
    assert first.expectations == {"expected_response": "Use the returns form."}
    assert human_label(first, "policy") == "no"
    assert human_label(accord.get_trace(ids[10]), "policy") is None  # an LLM_JUDGE verdict is not an expert label
    judged = accord.get_trace(ids[10]).search_assessments(name="policy")[0]
    assert judged.source.source_type == "LLM_JUDGE" and judged.source.source_id == "some-judge"

    _log_feedback(ids[11], "yes", "bo")  # labelled in MLflow after the first import
    again = accord_mlflow.import_traces(mlflow_server, "shop", experiment="shop")
    assert (again.imported, again.already_stored, again.assessments) == (0, 12, 1)
    assert human_label(accord.get_trace(ids[11]), "policy") == "yes"

    judge = make_judge(
        "policy",
        "Is {{ outputs }} within policy for {{ inputs }}?",
        model="fake:",
        feedback_value_type=Literal["yes", "no"],
    )
    judge.register(name="policy")
    registered = accord.get_judge("policy")
    evaluate("shop", [registered], show_progress=False)
    exported = accord_mlflow.export_verdicts("shop", registered, mlflow_server, "shop")
    assert (exported.exported, exported.traces_created) == (12, 0)
    assert accord_mlflow.export_verdicts("shop", registered, mlflow_server, "shop").already_exported == 12

    shop = mlflow.get_experiment_by_name("shop")  # type: ignore[attr-defined]
    read_back = mlflow.search_traces(experiment_ids=[shop.experiment_id], return_type="list")  # type: ignore[attr-defined]
    for trace in read_back:
        verdicts = [
            a
            for a in trace.info.assessments
            if a.name == "policy"
            and a.source.source_type == "LLM_JUDGE"
            and (a.metadata or {}).get("accord.judge") == "policy"
        ]
        assert len(verdicts) == 1 and verdicts[0].value == "yes"
        assert verdicts[0].metadata["accord.judge_version"] == "1" and verdicts[0].source.source_id == "fake:"


def test_cli_imports_and_exports_and_creates_traces_mlflow_lacks(tracking, mlflow_server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mlflow = tracking
    mlflow.set_experiment("cli-shop")  # type: ignore[attr-defined]
    for i in range(3):
        _answer(mlflow, i)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["traces", "import-mlflow", "--tracking-uri", mlflow_server, "--mlflow-experiment", "cli-shop", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 3
    missing = runner.invoke(
        app, ["traces", "import-mlflow", "--tracking-uri", mlflow_server, "--mlflow-experiment", "nope"]
    )
    assert missing.exit_code == 1 and "no MLflow experiment 'nope'" in missing.output and "cli-shop" in missing.output

    # traces that never were in MLflow: the export creates them there first
    rows = [{"trace_id": f"local-{i}", "inputs": {"question": f"q{i}"}, "outputs": f"a{i}"} for i in range(2)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert runner.invoke(app, ["traces", "import", str(tmp_path / "t.jsonl"), "--experiment", "local"]).exit_code == 0
    spec = tmp_path / "judge.yaml"
    spec.write_text("name: tone\ninstructions: 'Is {{ outputs }} polite?'\nmodel: 'fake:'\nfeedback_value_type: bool\n")
    assert runner.invoke(app, ["judges", "create", str(spec)]).exit_code == 0
    assert runner.invoke(app, ["judges", "run", "--judge", "tone", "--experiment", "local"]).exit_code == 0
    out = runner.invoke(
        app,
        [
            "feedback",
            "export-mlflow",
            "--experiment",
            "local",
            "--judge",
            "tone@1",
            "--tracking-uri",
            mlflow_server,
            "--mlflow-experiment",
            "from-accord",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"exported": 2, "already_exported": 0, "traces_created": 2}
    made = mlflow.search_traces(  # type: ignore[attr-defined]
        experiment_ids=[mlflow.get_experiment_by_name("from-accord").experiment_id],
        return_type="list",  # type: ignore[attr-defined]
    )
    assert sorted(t.info.tags["accord.trace_id"] for t in made) == ["local-0", "local-1"]
    assert all(a.value is True for t in made for a in t.info.assessments if a.name == "tone")
    again = runner.invoke(
        app,
        [
            "feedback",
            "export-mlflow",
            "--experiment",
            "local",
            "--judge",
            "tone@1",
            "--tracking-uri",
            mlflow_server,
            "--mlflow-experiment",
            "from-accord",
            "--json",
        ],
    )
    assert json.loads(again.stdout) == {"exported": 0, "already_exported": 2, "traces_created": 0}


def test_an_accord_judge_runs_inside_mlflow_genai_evaluate(tracking) -> None:  # type: ignore[no-untyped-def]
    from accord.integrations.mlflow import as_scorer
    from accord.llm import fake

    mlflow = tracking
    mlflow.set_experiment("evaluate-with-accord")  # type: ignore[attr-defined]
    fake.script(
        "strict",
        lambda request: {
            "rationale": "checked",
            "result": "no" if "refund" in request.messages[-1]["content"] else "yes",
        },
    )
    judge = make_judge(
        "policy",
        "Is {{ outputs }} within policy for {{ inputs }}?",
        model="fake:/strict",
        feedback_value_type=Literal["yes", "no"],
    )
    data = [
        {"inputs": {"question": "broken tent"}, "outputs": "I have issued a full refund."},
        {"inputs": {"question": "broken stove"}, "outputs": "Please use the returns form."},
    ]
    result = mlflow.genai.evaluate(data=data, scorers=[as_scorer(judge)])  # type: ignore[attr-defined]
    frame = result.result_df
    values = sorted(str(v) for v in frame["policy/value"])
    assert values == ["no", "yes"]
