"""The reference workflow's own code with `mlflow` replaced by `accord`: the application calls an
OpenAI-compatible server on 127.0.0.1 through the OpenAI client, traced by `accord.openai.autolog()`;
the judge runs on the scripted model."""

from __future__ import annotations

import json
import logging

import pytest

from accord.llm.stub_server import StubServer
from tests.align.helpers import PROMISES, RULES, play


def _describe(request: dict) -> str:
    query = request["messages"][-1]["content"]
    number = int(query.rsplit(" ", 1)[-1])
    return f"Product {number}: " + (PROMISES[number % 3] if number % 2 == 0 else "a sturdy 2-person tent, 1.9 kg.")


@pytest.fixture
def app_server():  # type: ignore[no-untyped-def]
    with StubServer(reply=_describe) as server:
        yield server


def test_reference_workflow_with_mlflow_replaced_by_accord(app_server: StubServer) -> None:
    import openai

    import accord
    from accord.entities import AssessmentSource, AssessmentSourceType
    from accord.genai.judges import make_judge

    def judge_verdict(request) -> str:  # type: ignore[no-untyped-def]
        return "poor" if any(p in request.messages[-1]["content"] for p in PROMISES) else "excellent"

    play(RULES, verdict=judge_verdict, name="quality")

    # Step 1 ------------------------------------------------------------------------------------------
    experiment = accord.set_experiment("/Shared/product-quality-alignment")
    experiment_id = experiment.experiment_id
    initial_judge = make_judge(
        name="product_quality",
        instructions=(
            "Evaluate if the product description in {{ outputs }} "
            "is accurate and helpful for the query in {{ inputs }}. "
            "Rate as: excellent, good, fair, or poor"
        ),
        model="fake:/quality",
    )
    accord.openai.autolog()
    try:
        client = openai.OpenAI(base_url=app_server.base_url, api_key="not-a-real-key")
        model_name = "databricks-claude-sonnet-4"

        def generate_product_description(query: str) -> str:
            response = client.chat.completions.create(
                model=model_name,
                messages=[
                    {"role": "system", "content": "You write concise, accurate product descriptions."},
                    {"role": "user", "content": query},
                ],
            )
            return response.choices[0].message.content

        for i in range(12):
            query = f"Tell me about product {i}"
            description = generate_product_description(query)
            trace_id = accord.get_last_active_trace_id()
            trace = accord.get_trace(trace_id)
            judge_result = initial_judge(trace=trace)
            accord.log_feedback(
                trace_id=trace_id,
                name=initial_judge.name,
                value=judge_result.value,
                rationale=judge_result.rationale,
            )
            assert description.startswith(f"Product {i}")
    finally:
        accord.openai.autolog(disable=True)

    traces = accord.search_traces(experiment_ids=[experiment_id], max_results=100, return_type="list")
    assert len(traces) == 12  # one trace per call; the judge's own model calls were not traced
    span = traces[0].spans[0]
    assert span.span_type == "CHAT_MODEL" and span.attributes["model"] == "databricks-claude-sonnet-4"
    assert span.attributes["usage"]["total_tokens"] >= 0
    assert traces[0].inputs["messages"][1]["content"].startswith("Tell me about product")
    assert traces[0].outputs["choices"][0]["message"]["content"].startswith("Product")
    verdicts = traces[0].search_assessments(name="product_quality")
    assert verdicts and verdicts[0].source.source_type == "CODE" and verdicts[0].source.source_id == "default"

    # Step 2 ------------------------------------------------------------------------------------------
    ground_truth_data = [
        {
            "trace_id": t.trace_id,
            "label": "poor" if any(p in json.dumps(t.outputs) for p in PROMISES) else "excellent",
            "rationale": "promises an outcome" if any(p in json.dumps(t.outputs) for p in PROMISES) else "accurate",
        }
        for t in traces
    ]
    for item in ground_truth_data:
        accord.log_feedback(
            trace_id=item["trace_id"],
            name=initial_judge.name,
            value=item["label"],
            rationale=item.get("rationale", ""),
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ground_truth_dataset"),
        )

    # Step 3 ------------------------------------------------------------------------------------------
    from accord.genai.judges.optimizers import MemAlignOptimizer

    logging.getLogger("accord.genai.judges.optimizers.memalign").setLevel(logging.DEBUG)
    traces_for_alignment = accord.search_traces(experiment_ids=[experiment_id], max_results=100, return_type="list")
    assert len(traces_for_alignment) >= 10
    aligned_judge = initial_judge.align(traces_for_alignment)
    version = aligned_judge.register(
        experiment_id=experiment_id,
        name=f"{initial_judge.name}_aligned",
        tags={"alignment_date": "2025-10-23", "num_traces": str(len(traces_for_alignment))},
    )
    assert version == 1
    optimizer = MemAlignOptimizer(model="fake:/quality")
    explicit = initial_judge.align(traces_for_alignment, optimizer)
    assert explicit.register(experiment_id=experiment_id) == 1

    from accord.entities.trace import Trace
    from accord.genai.judges.base import AlignmentOptimizer, Judge

    class MyCustomOptimizer(AlignmentOptimizer):
        def __init__(self, model: str | None = None, **kwargs: object) -> None:
            self.model = model

        def align(self, judge: Judge, traces: list[Trace]) -> Judge:
            from accord.genai.judges import make_judge

            return make_judge(name=judge.name, instructions=judge.instructions + " Be strict.", model=judge.model)

    custom = initial_judge.align(traces_for_alignment, MyCustomOptimizer(model="your-model"))
    assert custom.instructions.endswith("Be strict.")
    assert accord.get_judge("product_quality_aligned", version=1).name == "product_quality"


def test_builtin_judge_from_the_mlflow_scorers_name_and_litellm_autolog(
    app_server: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: litellm's bundled price list
    import litellm

    import accord
    from accord.genai.scorers import RelevanceToQuery

    accord.set_experiment("/Shared/relevance-alignment")
    initial_judge = RelevanceToQuery()
    assert initial_judge.name == "relevance_to_query"
    accord.litellm.autolog()
    try:
        with accord.start_span("app", inputs={"query": "Tell me about product 3"}) as span:
            answer = litellm.completion(
                model="openai/stub",
                api_base=app_server.base_url,
                api_key="not-a-real-key",
                messages=[{"role": "user", "content": "Tell me about product 3"}],
            )
            span.set_outputs(answer.choices[0].message.content)
    finally:
        accord.litellm.autolog(disable=True)
    trace = accord.get_trace(accord.get_last_active_trace_id())
    assert [s.name for s in trace.spans] == ["app", "completion"]  # the call nests under the caller's span
    call = trace.spans[1]
    assert call.parent_id == trace.spans[0].span_id and call.span_type == "CHAT_MODEL"
    assert call.attributes["provider"] == "litellm" and "api_key" not in (call.inputs or {})
    assert trace.inputs == {"query": "Tell me about product 3"} and trace.outputs.startswith("Product 3")
    assert initial_judge(trace=trace).error is None


def test_mlflow_optimizer_names_import_and_name_accords_optimizers() -> None:
    from accord.align import OPTIMIZERS, load_optimizer
    from accord.genai.judges.optimizers import (
        GEPAAlignmentOptimizer,
        GePaAlignmentOptimizer,
        MemAlignOptimizer,
        SIMBAAlignmentOptimizer,
    )

    assert GEPAAlignmentOptimizer is GePaAlignmentOptimizer
    assert isinstance(load_optimizer("memalign"), MemAlignOptimizer)
    assert OPTIMIZERS["simba"].endswith(":" + SIMBAAlignmentOptimizer.__name__)
    assert OPTIMIZERS["gepa"].endswith(":" + GEPAAlignmentOptimizer.__name__)
