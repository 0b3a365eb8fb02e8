"""Steps 1 and 2 of the reference workflow, line for line with `accord` in place of `mlflow`."""

from accord.llm import fake


def test_step1_builtin_judge_on_traces_and_step2_programmatic_feedback() -> None:
    import accord
    from accord.entities import AssessmentSource, AssessmentSourceType
    from accord.judges import RelevanceToQuery

    experiment = accord.set_experiment("/Shared/relevance-alignment")
    experiment_id = experiment.experiment_id
    initial_judge = RelevanceToQuery()

    @accord.trace
    def generate_product_description(query: str) -> str:
        return f"{query}: a sturdy, lightweight product."

    for i in range(12):
        generate_product_description(f"Tell me about product {i}")
        trace_id = accord.get_last_active_trace_id()
        trace = accord.get_trace(trace_id)
        judge_result = initial_judge(trace=trace)
        accord.log_feedback(
            trace_id=trace_id,
            name=initial_judge.name,
            value=judge_result.value,
            rationale=judge_result.rationale,
        )

    traces = accord.search_traces(experiment_ids=[experiment_id], max_results=100, return_type="list")
    ground_truth_data = [
        {"trace_id": t.trace_id, "label": "no" if i % 3 == 0 else "yes", "rationale": f"reason {i}"}
        for i, t in enumerate(traces)
    ]
    for item in ground_truth_data:
        accord.log_feedback(
            trace_id=item["trace_id"],
            name=initial_judge.name,
            value=item["label"],
            rationale=item.get("rationale", ""),
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ground_truth_dataset"),
        )

    traces_for_alignment = accord.search_traces(experiment_ids=[experiment_id], max_results=100, return_type="list")
    assert len(traces_for_alignment) == 12
    for trace in traces_for_alignment:
        feedbacks = trace.search_assessments(type="feedback")
        human_feedback = next(
            (f for f in feedbacks if f.source.source_type == "HUMAN" and f.source.source_id == "ground_truth_dataset"),
            None,
        )
        assert human_feedback is not None and human_feedback.name == "relevance_to_query"
        assert human_feedback.value == next(g["label"] for g in ground_truth_data if g["trace_id"] == trace.trace_id)


def test_step1_custom_judge_with_make_judge() -> None:
    import accord
    from accord.judges import make_judge

    fake.script("quality", [{"rationale": "detailed and accurate", "result": "excellent"}])
    accord.set_experiment("/Shared/product-quality-alignment")
    initial_judge = make_judge(
        name="product_quality",
        instructions=(
            "Evaluate if the product description in {{ outputs }} "
            "is accurate and helpful for the query in {{ inputs }}. "
            "Rate as: excellent, good, fair, or poor"
        ),
        model="fake:/quality",
    )
    with accord.start_span("app", inputs={"query": "Tell me about product 1"}) as span:
        span.set_outputs("Product 1 is a 2-person tent.")
    trace = accord.get_trace(accord.get_last_active_trace_id())
    judge_result = initial_judge(trace=trace)
    accord.log_feedback(
        trace_id=trace.trace_id,
        name=initial_judge.name,
        value=judge_result.value,
        rationale=judge_result.rationale,
    )
    assert accord.get_trace(trace.trace_id).search_assessments(name="product_quality")[0].value == "excellent"


def test_step3_align_register_load_and_validate() -> None:
    """Default optimizer, explicit optimizer, custom optimizer, register, load by name and version, and the
    reference's validation function."""
    import accord
    from accord.align import AlignmentOptimizer, MemAlignOptimizer
    from accord.entities import AssessmentSource, AssessmentSourceType, Trace
    from accord.judges import Judge, make_judge
    from tests.align.helpers import RULES, labelled_traces, play, says_no_when_promised

    play(RULES, verdict=says_no_when_promised)
    experiment = accord.set_experiment("/Shared/policy-alignment")
    experiment_id = experiment.experiment_id
    from accord.store import get_store

    get_store().insert_traces(labelled_traces(30, name="policy"), experiment_id)
    initial_judge = make_judge(
        name="policy", instructions="Does {{ outputs }} answer {{ inputs }} within policy? yes or no", model="fake:"
    )

    traces_for_alignment = accord.search_traces(experiment_ids=[experiment_id], max_results=100, return_type="list")
    assert len(traces_for_alignment) >= 10
    aligned_judge = initial_judge.align(traces_for_alignment)
    version = aligned_judge.register(
        experiment_id=experiment_id,
        name=f"{initial_judge.name}_aligned",
        tags={"alignment_date": "2025-10-23", "num_traces": str(len(traces_for_alignment))},
    )
    assert version == 1

    optimizer = MemAlignOptimizer(model="fake:")
    explicit = initial_judge.align(traces_for_alignment[:15], optimizer)
    assert explicit.register(experiment_id=experiment_id) == 1

    class MyCustomOptimizer(AlignmentOptimizer):
        def __init__(self, model: str | None = None, **kwargs: object) -> None:
            self.model = model

        def align(self, judge: Judge, traces: list[Trace]) -> Judge:
            return make_judge(name=judge.name, instructions=judge.instructions + " Be strict.", model=judge.model)

    custom = initial_judge.align(traces_for_alignment, MyCustomOptimizer(model="your-model"))
    assert custom.instructions.endswith("Be strict.")

    loaded = accord.get_judge("policy_aligned")
    assert loaded.to_dict() == aligned_judge.to_dict()
    assert accord.get_judge("policy_aligned", version=1).version == 1

    def test_alignment_improvement(original_judge, aligned_judge, test_traces: list) -> dict:
        original_correct = aligned_correct = 0
        for trace in test_traces:
            feedbacks = trace.search_assessments(type="feedback")
            human_feedback = next((f for f in feedbacks if f.source.source_type == "HUMAN"), None)
            if not human_feedback:
                continue
            original_eval = original_judge(trace=trace)
            aligned_eval = aligned_judge(trace=trace)
            original_correct += original_eval.value == human_feedback.value
            aligned_correct += aligned_eval.value == human_feedback.value
        total = len(test_traces)
        return {
            "original_accuracy": original_correct / total,
            "aligned_accuracy": aligned_correct / total,
            "improvement": (aligned_correct - original_correct) / total,
        }

    test_traces = labelled_traces(10, name="policy", prefix="test-")
    result = test_alignment_improvement(initial_judge, loaded, test_traces)
    assert result["original_accuracy"] == 0.5 and result["aligned_accuracy"] == 1.0
    assert AssessmentSource(source_type=AssessmentSourceType.HUMAN).source_type == "HUMAN"
