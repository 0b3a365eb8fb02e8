"""MLflow's documented evaluation snippets, with `mlflow` replaced by `accord`, run as written (fake model)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import accord
from accord.errors import AccordError
from accord.llm import fake


def _model() -> None:
    fake.script("", lambda request: {"rationale": "looks right", "result": "yes"})


def test_mlflows_quickstart_evaluation_runs_with_accord(tmp_path: Path) -> None:
    _model()
    # --- as in MLflow's GenAI evaluation quickstart, `mlflow` replaced by `accord` -------------------------
    from accord.genai.scorers import Correctness, RelevanceToQuery, scorer

    accord.set_tracking_uri(str(tmp_path / "tracking"))
    accord.set_experiment("GenAI evaluation quickstart")

    def qa_predict_fn(question: str) -> str:
        return f"An answer to: {question}"

    eval_dataset = [
        {
            "inputs": {"question": "What is the capital of France?"},
            "expectations": {"expected_response": "Paris"},
        },
        {
            "inputs": {"question": "Who was the first person to build an airplane?"},
            "expectations": {"expected_response": "Wright Brothers"},
        },
    ]

    @scorer
    def is_concise(outputs: str) -> bool:
        return len(outputs.split()) <= 12

    results = accord.genai.evaluate(
        data=eval_dataset,
        predict_fn=qa_predict_fn,
        scorers=[Correctness(), RelevanceToQuery(), is_concise],
    )
    # -------------------------------------------------------------------------------------------------
    assert results.metrics["is_concise/mean"] == 1.0
    assert results.metrics["relevance_to_query/mean"] == 1.0 and "correctness/mean" in results.metrics
    table = results.tables["eval_results"]
    assert isinstance(table, pd.DataFrame) and len(table) == 2
    assert list(table["response"]) == [f"An answer to: {r['inputs']['question']}" for r in eval_dataset]
    assert set(table["is_concise/value"]) == {True} and table["relevance_to_query/rationale"][0] == "looks right"
    assert (tmp_path / "tracking" / "accord.db").exists()  # the tracking URI is where everything went


def test_a_dataframe_or_traces_as_data_and_search_traces_as_pandas() -> None:
    _model()
    from accord.genai.scorers import Guidelines

    accord.set_experiment("frames")
    frame = pd.DataFrame(
        [
            {"inputs": {"q": "refund?"}, "outputs": "Use the returns form."},
            {"inputs": {"q": "late?"}, "outputs": "Tracking is on the orders page."},
        ]
    )
    polite = Guidelines(name="polite", guidelines="The answer is polite.")
    first = accord.genai.evaluate(data=frame, scorers=[polite])
    assert first.metrics == {"polite/mean": 1.0}
    traces = accord.search_traces(experiment_names=["frames"], return_type="list")
    assert len(traces) == 2
    again = accord.genai.evaluate(data=traces, scorers=[polite])  # traces as data: nothing judged twice
    assert len(again.rows) == 2
    table = accord.search_traces(experiment_names=["frames"], return_type="pandas")
    assert list(table.columns[:3]) == ["trace_id", "request", "response"] and len(table) == 2
    assert any(a["name"] == "polite" for a in table["assessments"][0])
    with pytest.raises(AccordError, match="row 1 of data has no outputs"):
        accord.genai.evaluate(data=[{"inputs": {"q": "x"}}], scorers=[polite])
    with pytest.raises(AccordError, match="data must be a list of dicts"):
        accord.genai.evaluate(data="nope", scorers=[polite])
