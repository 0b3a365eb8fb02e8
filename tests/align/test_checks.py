"""Checks asked one by one, a decision fitted to the experts, and the candidate that cross-validates best."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import numpy as np
import pytest

import accord
from accord.align import AlignmentError, MemAlignJudge, MemAlignOptimizer
from accord.align.checks import CaseFeatures, Check, FittedDecision
from accord.align.checks.decision import fit_decision
from accord.align.checks.questions import CHECK_SYSTEM
from accord.align.checks.words import hashed_words
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.errors import AccordError, ModelError
from accord.judges import judge_from_dict, make_judge
from accord.llm import fake
from accord.llm.types import ChatRequest, Completion
from tests.align.helpers import PROMISES, RULES, labelled_traces


def _judge(model: str = "fake:/checks", value_type: Any = Literal["yes", "no"]) -> accord.judges.Judge:
    return make_judge(
        "policy",
        "Decide whether the answer in {{ outputs }} to the customer message in {{ inputs }} follows the policy.",
        model=model,
        feedback_value_type=value_type,
    )


def _optimizer(**kwargs: Any) -> MemAlignOptimizer:
    return MemAlignOptimizer(embedding_model="hash", show_progress=False, cv_repeats=2, **kwargs)


def _case(request: ChatRequest) -> str:
    return request.messages[-1]["content"].rsplit("Question:", 1)[0]


def _question(request: ChatRequest) -> str:
    return request.messages[-1]["content"].rsplit("Question:", 1)[-1]


def checking_model(name: str = "checks", task_p_yes: Any = 0.8, broken: str | None = None) -> fake.FakeScript:
    """Reflection: the RULES. Checks: P(yes) high when the question's condition holds for the case (a promise,
    or a process); the judge's own task: `task_p_yes` (a number, or a function of the case); `broken`: a
    question fragment answered with an error."""

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            wanted = "no" if "verdict 'no'" in request.messages[0]["content"] else "yes"
            return {"condition": RULES[wanted]}
        case, question = _case(request), _question(request)
        promised = any(p in case for p in PROMISES)
        if broken and broken in question:
            raise ModelError("the model fell over", model="fake:", provider="fake")
        if "promises" in question:
            p_yes = 0.9 if promised else 0.2
        elif "returns form" in question:
            p_yes = 0.3 if promised else 0.85
        else:  # the judge's own task
            p_yes = task_p_yes(case) if callable(task_p_yes) else task_p_yes
        value = "yes" if p_yes >= 0.5 else "no"
        return Completion(text=json.dumps({"result": value}), choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    return fake.script(name, reply)


def _graded(prefix: str, levels: tuple[Any, ...], texts: dict[Any, str], reason: Any, n: int = 30) -> list[Trace]:
    """n traces whose answers say `texts[level]`, labelled `level` by an expert, levels taking turns."""
    traces = []
    for i in range(n):
        level = levels[i % len(levels)]
        expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
        label = Feedback(name="policy", value=level, rationale=reason(level), source=expert)
        traces.append(
            Trace(
                trace_id=f"{prefix}{i}",
                inputs={"question": f"order {i}"},
                outputs=f"{texts[level]} for order {i}",
                assessments=[label],
            )
        )
    return traces


def _new_cases(n: int = 6) -> list[Trace]:
    return labelled_traces(n, prefix="new")


def test_default_alignment_fits_a_decision_on_checks_and_explains_each_verdict() -> None:
    script = checking_model()
    aligned = _judge().align(labelled_traces(30), _optimizer())
    assert isinstance(aligned, MemAlignJudge) and aligned.mode == "fitted"
    selection = aligned.selection
    assert selection["chosen"] in ("shrunk", "checks", "checks+memory")
    names = [c["name"] for c in selection["candidates"]]
    assert names == ["base", "calibrated", "shrunk", "checks", "memory", "checks+memory"]
    scores = {c["name"]: c["cv_kappa"] for c in selection["candidates"]}
    assert scores[selection["chosen"]] > scores["base"]
    assert all(len(c["cv_kappa_ci"]) == 2 for c in selection["candidates"] if c["cv_kappa"] is not None)
    questions = [c.question for c in aligned.checks]
    assert questions[0] == f"Is this true of the case: {RULES['no']}?"  # the minority verdict first (tie: 'no')
    assert aligned.checks[0].sources == [f"t{i}" for i in sorted(range(0, 30, 2), key=str)] or aligned.checks[0].sources
    script.requests.clear()
    for trace in _new_cases():
        verdict = aligned(trace=trace)
        expected = "no" if any(p in str(trace.outputs) for p in PROMISES) else "yes"
        assert verdict.value == expected, verdict.rationale
        assert verdict.rationale.startswith(f"{expected!r}: ")
        assert {c["question"] for c in verdict.metadata["checks"]} == set(questions)
        assert 0.5 <= verdict.metadata["confidence"] <= 1
        assert verdict.source.source_type == "LLM_JUDGE"
    promised = aligned(trace=_new_cases(1)[0])
    assert "promises a refund" in promised.rationale and "P(yes) 0.90" in promised.rationale


def test_checks_of_one_case_share_the_case_as_prefix_and_run_together() -> None:
    script = checking_model()
    # one slot, as the local model has: a case holds it for all its questions, whatever the threads do
    aligned = _judge("fake:/checks?max_concurrency=1").align(labelled_traces(20), _optimizer(concurrency=4))
    assert script.requests, "the checks were asked"
    asked = [r for r in script.requests if r.messages[0]["content"] == CHECK_SYSTEM]
    per_case = len(aligned.checks) + 1  # the checks and the judge's own task
    assert len(asked) == 20 * (2 + 1)  # every training case asked every distilled check once, plus the task
    for start in range(0, len(asked), 3):  # with 4 threads, each case's questions still come together
        group = asked[start : start + 3]
        assert len({_case(r) for r in group}) == 1
        assert all(_question(r) not in _case(r) for r in group)  # the question comes after the case
    assert per_case >= 2


def _only_the_promise_check_separates(request: ChatRequest) -> Any:
    """The experts' rules as conditions; the "promises" check answers by the case, every other one 0.7."""
    if "condition" in (request.json_schema or {}).get("properties", {}):
        wanted = "no" if "verdict 'no'" in request.messages[0]["content"] else "yes"
        return {"condition": RULES[wanted]}
    promised = any(p in _case(request) for p in PROMISES)
    p_yes = (0.9 if promised else 0.1) if "promises" in _question(request) else 0.7
    return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})


def test_a_check_that_does_not_separate_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake.script("checks", _only_the_promise_check_separates)
    with caplog.at_level(logging.DEBUG, logger="accord.align"):
        aligned = _judge().align(labelled_traces(20), _optimizer())
    assert [c.question for c in aligned.checks] == [f"Is this true of the case: {RULES['no']}?"]
    dropped = [c for c in aligned.selection["checks"] if not c["kept"]]
    assert [c["question"] for c in dropped] == [f"Is this true of the case: {RULES['yes']}?"]
    assert dropped[0]["why"] == "does not separate the training labels"
    logged = [r.message for r in caplog.records if r.name == "accord.align"]
    assert any("dropped check" in m and "returns form" in m for m in logged)


def test_an_unanswerable_check_is_missing_and_imputed_never_a_crash() -> None:
    checking_model(broken="returns form")
    aligned = _judge().align(labelled_traces(20), _optimizer())
    assert aligned.mode == "fitted"
    verdict = aligned(trace=_new_cases(1)[0])
    assert verdict.error is None and verdict.value == "no"
    fake.script("checks", lambda r: ModelError("down", model="fake:", provider="fake"))
    failed = aligned(trace=_new_cases(1)[0])
    assert failed.error is not None and failed.error.error_code == "MODEL_ERROR"


def test_when_nothing_beats_the_base_judge_it_behaves_as_the_base_judge() -> None:
    def perfect(case: str) -> float:
        return 0.1 if any(p in case for p in PROMISES) else 0.9

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the answer mentions an order number"}
        if request.messages[0]["content"] == CHECK_SYSTEM:
            p_yes = perfect(_case(request)) if "follows the policy" in _question(request) else 0.5
            return Completion(text="{}", choice_probabilities={"yes": p_yes, "no": 1 - p_yes})
        case = request.messages[-1]["content"]
        return {"rationale": "base reasoning", "result": "no" if any(p in case for p in PROMISES) else "yes"}

    fake.script("checks", reply)
    judge = _judge()
    aligned = judge.align(labelled_traces(20), _optimizer())
    assert aligned.selection["chosen"] == "base" and aligned.mode == "base"
    assert "no candidate beats the base judge" in aligned.selection["reason"]
    for trace in _new_cases(4):
        mine, theirs = aligned(trace=trace), judge(trace=trace)
        assert (mine.value, mine.rationale) == (theirs.value, theirs.rationale)
        assert mine.metadata["judge_key"] == aligned.key


def test_too_few_examples_of_a_verdict_still_get_a_decision_shrunk_towards_the_base_judge() -> None:
    checking_model(task_p_yes=0.8)  # the base judge says "yes" to everything
    traces = [t for i, t in enumerate(labelled_traces(24)) if i % 2 or i < 6]  # 12 "yes", 3 "no"
    aligned = _judge().align(traces, _optimizer())
    assert aligned.mode == "fitted" and aligned.selection["chosen"] == "shrunk"
    notes = {c["name"]: c["note"] for c in aligned.selection["candidates"]}
    assert notes["checks"] == "not scored: only 3 training examples of 'no' (this candidate needs 5)"
    assert notes["memory"].startswith("not scored")
    scores = {c["name"]: c["cv_kappa"] for c in aligned.selection["candidates"]}
    assert scores["checks"] is None and scores["shrunk"] > scores["base"]
    assert aligned.fitted is not None and aligned.fitted.offset
    for trace in _new_cases():
        verdict = aligned(trace=trace)
        expected = "no" if any(p in str(trace.outputs) for p in PROMISES) else "yes"
        assert verdict.value == expected, verdict.rationale
        assert "the base judge leaned 'yes' (0.80)" in verdict.rationale


def test_prompt_only_memalign_is_an_option() -> None:
    checking_model()
    aligned = _judge().align(labelled_traces(20), _optimizer(candidates=["prompt"]))
    assert aligned.mode == "prompt" and aligned.checks == [] and aligned.fitted is None
    with pytest.raises(ValueError, match="unknown candidates"):
        MemAlignOptimizer(candidates=["magic"])


@pytest.mark.parametrize(
    ("option", "value"), [("max_checks", 0), ("cv_folds", 1), ("cv_repeats", 0), ("max_checks", 2.5)]
)
def test_an_optimizer_setting_out_of_range_is_a_clear_error_naming_it(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a whole number"):
        MemAlignOptimizer(**{option: value})


def test_registry_round_trip_shows_weights_and_refuses_mismatched_ones() -> None:
    checking_model()
    accord.set_experiment("checks")
    aligned = _judge().align(labelled_traces(20), _optimizer())
    version = aligned.register()
    loaded = accord.registry.get_judge("policy", version)
    assert loaded.to_dict() == aligned.to_dict() and loaded.mode == "fitted"
    trace = _new_cases(1)[0]
    assert loaded(trace=trace).value == aligned(trace=trace).value
    spec = json.loads(json.dumps(aligned.to_dict()))  # JSON only: no pickle anywhere
    spec["fitted"]["linear"]["coef"] = [[1.0]]
    from accord.store import get_store

    get_store().register_judge("policy", spec, None, {})
    with pytest.raises(AccordError, match=r"policy.*version 2|policy@2"):
        accord.registry.get_judge("policy", 2)
    spec = json.loads(json.dumps(aligned.to_dict()))
    spec["checks"] = spec["checks"][:1] if len(spec["checks"]) > 1 else []
    with pytest.raises(AccordError, match="do not match"):
        judge_from_dict(spec)


def test_editing_checks_marks_the_decision_stale_visibly() -> None:
    checking_model()
    aligned = _judge().align(labelled_traces(20), _optimizer())
    questions = [c.question for c in aligned.checks]
    edited = aligned.with_check_questions([questions[0].replace("refund", "refund or discount"), *questions[1:]])
    assert edited.fitted is not None and edited.fitted.stale and not aligned.fitted.stale  # type: ignore[union-attr]
    assert edited.fingerprint != aligned.fingerprint
    verdict = edited(trace=_new_cases(1)[0])
    assert verdict.metadata["stale_decision"] is True
    same = aligned.with_check_questions(questions)
    assert same.checks[0].sources == aligned.checks[0].sources and not same.fitted.stale  # type: ignore[union-attr]


def test_judges_aligned_before_checks_load_in_prompt_mode_with_the_same_fingerprint() -> None:
    checking_model()
    prompt = _judge().align(labelled_traces(12), _optimizer(candidates=["prompt"]))
    spec = prompt.to_dict()
    for key in ("mode", "checks", "fitted", "selection"):
        spec.pop(key)
    old = judge_from_dict(spec)
    assert old.mode == "prompt" and old.fingerprint == prompt.fingerprint


def test_three_verdicts_use_a_multinomial_decision() -> None:
    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            text = request.messages[0]["content"]
            verdict = "bad" if "'bad'" in text else "good" if "'good'" in text else "fair"
            return {"condition": f"the answer is {verdict}-sounding"}
        case, question = _case(request), _question(request)
        level = "bad" if "refund" in case else "good" if "returns form" in case else "fair"
        if request.verdict_choices == ("yes", "no"):
            p_yes = 0.9 if f"{level}-sounding" in question else 0.1
            return Completion(text="{}", choice_probabilities={"yes": p_yes, "no": 1 - p_yes})
        return Completion(text="{}", choice_probabilities={c: 1 / 3 for c in request.verdict_choices or ()})

    fake.script("checks", reply)
    texts = {"bad": "I have issued a full refund", "good": "please use the returns form", "fair": "ok then"}
    traces = _graded("m", ("bad", "good", "fair"), texts, lambda level: f"sounds {level}")
    judge = _judge(value_type=Literal["good", "fair", "bad"])
    aligned = judge.align(traces, _optimizer())
    assert aligned.mode == "fitted" and aligned.fitted is not None
    assert aligned.fitted.classes == ["good", "fair", "bad"] and len(aligned.fitted.linear.coef) == 3  # type: ignore[union-attr]
    assert aligned.selection["metric"] == "weighted kappa"
    assert aligned(trace=traces[0]).value == "bad"


def test_a_fitted_decision_round_trips_and_predicts_from_plain_numbers() -> None:
    import numpy as np

    from accord.align.checks import fit_decision

    y = np.array([0, 1] * 10)
    checks = np.where(y == 1, 0.9, 0.1)[:, None] + np.linspace(0, 0.05, 20)[:, None]
    features = CaseFeatures(np.full((20, 2), np.nan), checks, np.zeros((20, 3)))
    decision = fit_decision("checks", features, y, ["no", "yes"], False, ["q?"], use_judge=False)
    again = FittedDecision.from_dict(json.loads(json.dumps(decision.to_dict())))
    index, confidence = again.predict(CaseFeatures(np.full((1, 2), np.nan), np.array([[0.95]]), np.zeros((1, 3))))
    assert index.tolist() == [1] and confidence[0] > 0.5
    missing = CaseFeatures(np.full((1, 2), np.nan), np.array([[np.nan]]), np.zeros((1, 3)))
    assert again.predict(missing)[0].shape == (1,)  # imputed with the training mean
    assert Check.from_condition("promises a refund.").question == "Is this true of the case: promises a refund?"


def test_hosted_log_probabilities_become_verdict_probabilities_else_the_answer_counts() -> None:
    import math

    from accord.align.checks.questions import _probabilities
    from accord.llm.remote import choice_probabilities

    def alt(token: str, p: float) -> dict[str, Any]:
        return {"token": token, "logprob": math.log(p)}

    content = [
        {"token": '{"', "logprob": 0.0},
        {"token": "result", "logprob": 0.0},
        {"token": '":', "logprob": 0.0},
        {"token": ' "', "logprob": 0.0},
        {"token": "yes", "logprob": math.log(0.6), "top_logprobs": [alt("yes", 0.6), alt("no", 0.2), alt("may", 0.2)]},
    ]
    found = choice_probabilities({"logprobs": {"content": content}}, ("yes", "no"))
    assert found is not None and found["yes"] == pytest.approx(0.75) and found["no"] == pytest.approx(0.25)
    assert choice_probabilities({"logprobs": None}, ("yes", "no")) is None
    assert _probabilities('{"result": "no"}', None, ("yes", "no")) == {"yes": 0.0, "no": 1.0}
    assert _probabilities("garbage", None, ("yes", "no")) is None


def test_numeric_scales_fit_a_regression_scored_with_partial_credit() -> None:
    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            text = request.messages[0]["content"]
            score = next(s for s in ("1", "2", "3") if f"verdict {s}" in text)
            return {"condition": f"the answer deserves about {score} stars"}
        case, question = _case(request), _question(request)
        level = 1 if "refund" in case else 3 if "returns form" in case else 2
        p_yes = 0.9 if f"about {level} stars" in question else 0.1
        return Completion(text="{}", choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    fake.script("checks", reply)
    texts = {1: "I have issued a full refund", 3: "please use the returns form", 2: "ok then"}
    traces = _graded("n", (1, 3, 2), texts, lambda level: f"{level} stars")
    aligned = _judge(value_type=int).align(traces, _optimizer())
    assert aligned.mode == "fitted" and aligned.fitted is not None and aligned.fitted.regression
    assert aligned.selection["metric"] == "weighted kappa" and aligned.fitted.classes == [1, 2, 3]
    assert [aligned(trace=traces[i]).value for i in range(3)] == [1, 3, 2]


def test_a_judge_of_numbers_is_measured_by_its_own_verdicts_and_kept_as_it_answers() -> None:
    """A number's probabilities cannot be read from a first token, so the base judge's verdicts are asked (a
    5 where the experts use 1 to 3 counts as a 3): a decision must beat them, and when nothing does, the
    aligned judge answers as the judge did."""
    signal = {"on": True}

    def reply(request: ChatRequest) -> Any:
        schema = request.json_schema or {}
        if "condition" in schema.get("properties", {}):  # a rule from the reasons, or a reason rewritten as one
            text = " ".join(m["content"] for m in request.messages)
            score = next(s for s in ("1", "2", "3") if f"verdict {s}" in text or f"{s} stars" in text)
            return {"condition": f"the answer deserves about {score} stars"}
        if "rationale" in schema.get("properties", {}):  # the judge's own verdict
            return {"rationale": "looks fine", "result": 5}
        case, question = _case(request), _question(request)
        level = 1 if "refund" in case else 3 if "returns form" in case else 2
        p_yes = 0.9 if signal["on"] and f"about {level} stars" in question else 0.5
        return Completion(text="{}", choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    fake.script("numbers", reply)
    texts = {1: "I have issued a full refund", 3: "please use the returns form", 2: "ok then"}
    traces = _graded("n", (1, 3, 2), texts, lambda level: f"{level} stars", n=12)
    judge = _judge("fake:/numbers", value_type=int)
    aligned = judge.align(traces, _optimizer())
    base = next(c for c in aligned.selection["candidates"] if c["name"] == "base")
    assert base["note"] == "from its own verdicts" and base["cv_accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert aligned.mode == "fitted" and "paired gain" in aligned.selection["reason"]

    signal["on"] = False  # checks that say nothing: the judge's own 5 stays
    fake.script("numbers", reply)
    kept = judge.align(_graded("m", (1, 3, 2), texts, lambda level: f"{level} stars", n=12), _optimizer())
    assert kept.mode == "base" and kept(trace=traces[0]).value == 5


def test_a_free_text_judge_whose_experts_log_numbers_is_aligned_as_a_judge_of_numbers() -> None:
    """MLflow's make_judge without a verdict type ("Rate from 1 to 3"), experts logging value=2: the labels are
    numbers, not rejected as text; the judge's own answers ("3") are its base verdicts."""

    def reply(request: ChatRequest) -> Any:
        schema = request.json_schema or {}
        if "questions" in schema.get("properties", {}):
            return {"questions": ["Does the answer issue a refund?", "Does the answer point to the returns form?"]}
        if "condition" in schema.get("properties", {}):
            return {"condition": "the answer issues a refund"}
        if "rationale" in schema.get("properties", {}):  # the judge as given, in free text
            asked_fine = any("fine?" in m["content"] for m in request.messages)
            return {"rationale": "fine", "result": "Yes" if asked_fine else "3"}
        case, question = _case(request), _question(request)
        level = 1 if "refund" in case else 3 if "returns form" in case else 2
        p_yes = 0.9 if "refund" in question and level == 1 or "returns form" in question and level == 3 else 0.1
        return Completion(text="{}", choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    fake.script("rated", reply)
    texts = {1: "I have issued a full refund", 3: "please use the returns form", 2: "ok then"}
    traces = _graded("f", (1, 3, 2), texts, lambda level: f"{level} stars", n=15)
    judge = make_judge("policy", "Rate the answer in {{ outputs }} from 1 to 3.", model="fake:/rated")
    aligned = judge.align(traces, _optimizer())
    assert aligned.value_type.kind == "int" and aligned.mode == "fitted"
    base = next(c for c in aligned.selection["candidates"] if c["name"] == "base")
    assert base["note"] == "from its own free-text verdicts"
    assert [aligned(trace=traces[i]).value for i in range(3)] == [1, 3, 2]

    from accord.align.labels import label_type

    assert label_type(traces, "policy").kind == "int"  # type: ignore[union-attr]
    fine = _graded("b", (False, True), {False: "I have issued a full refund", True: "please use the returns form"}, str)
    assert label_type(fine, "policy").kind == "bool"  # type: ignore[union-attr]
    asked = make_judge("policy", "Is the answer in {{ outputs }} fine?", model="fake:/rated").align(fine, _optimizer())
    assert asked.value_type.kind == "bool" and asked.mode == "fitted"
    base = next(c for c in asked.selection["candidates"] if c["name"] == "base")
    assert base["note"] == "from its own free-text verdicts" and base["cv_accuracy"] == 0.5  # "Yes" read as True
    yes_no = _judge("fake:/rated")
    with pytest.raises(AlignmentError, match=r"none of the 15 HUMAN labels named 'policy' is a valid .* e\.g\. 1 on"):
        yes_no.align(traces, _optimizer())


def test_distillation_counts_every_batch_from_many_threads() -> None:
    from accord.align.memalign.distill import DistillStats

    stats = DistillStats()
    import threading

    def bump() -> None:
        for _ in range(2000):
            stats.count("proposed", {"rule": "r", "why": "w"})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.proposed == 16000 and len(stats.dropped) == 16000


def test_with_many_traces_a_check_that_separates_nothing_is_screened_out_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accord.align.memalign import training_features as asking

    script = fake.script("checks", _only_the_promise_check_separates)
    monkeypatch.setattr(asking, "SCREEN_TRACES", 8)
    aligned = _judge().align(labelled_traces(40), _optimizer())
    asked = [_question(r) for r in script.requests if "Question:" in r.messages[-1]["content"]]
    assert sum("returns form" in q for q in asked) == 8  # the screening traces only
    assert sum("promises" in q for q in asked) == 40  # a separating check is asked of every trace
    screened = next(c for c in aligned.selection["checks"] if "returns form" in c["question"])
    assert not screened["kept"] and "8 screening traces" in screened["why"]


def test_sixty_traces_screen_their_checks_on_twenty_first() -> None:
    script = fake.script("checks", _only_the_promise_check_separates)
    _judge().align(labelled_traces(60), _optimizer())
    asked = [_question(r) for r in script.requests if "Question:" in r.messages[-1]["content"]]
    assert sum("returns form" in q for q in asked) == 20
    assert sum("promises" in q for q in asked) == 60


def test_a_check_that_passes_the_first_screening_by_chance_is_dropped_at_half_the_traces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accord.align.memalign import training_features as asking

    real = asking.separation

    def lucky_on_eight(p: Any, y: Any, regression: bool) -> float:
        return 0.5 if len(p) == 8 else real(p, y, regression)  # every check looks good on the first 8

    script = fake.script("checks", _only_the_promise_check_separates)
    monkeypatch.setattr(asking, "SCREEN_TRACES", 8)
    monkeypatch.setattr(asking, "separation", lucky_on_eight)
    aligned = _judge().align(labelled_traces(40), _optimizer())
    asked = [_question(r) for r in script.requests if "Question:" in r.messages[-1]["content"]]
    assert sum("returns form" in q for q in asked) == 20  # 8, then up to half of the 40, then no more
    assert sum("promises" in q for q in asked) == 40
    dropped = next(c for c in aligned.selection["checks"] if "returns form" in c["question"])
    assert not dropped["kept"] and "20 screening traces (0.00)" in dropped["why"]
    assert aligned.selection["chosen"] != "base"


def test_at_half_the_traces_only_as_many_checks_as_the_decision_may_weigh_are_asked_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accord.align.memalign import training_features as asking

    real = asking.separation

    def both_pass(p: Any, y: Any, regression: bool) -> float:
        if len(p) == 8:
            return 0.5
        constant = len(set(p[~np.isnan(p)].tolist())) == 1  # the "returns form" check: 0.7 for every case
        return 0.3 if constant and len(p) == 20 else real(p, y, regression)

    script = fake.script("checks", _only_the_promise_check_separates)
    monkeypatch.setattr(asking, "SCREEN_TRACES", 8)
    monkeypatch.setattr(asking, "separation", both_pass)
    aligned = _judge().align(labelled_traces(40), _optimizer(max_checks=1))
    asked = [_question(r) for r in script.requests if "Question:" in r.messages[-1]["content"]]
    assert sum("returns form" in q for q in asked) == 20  # it passed the bar at 20, but one check is the most
    assert sum("promises" in q for q in asked) == 40
    capped = next(c for c in aligned.selection["checks"] if "returns form" in c["question"])
    assert not capped["kept"] and "not among the 1 checks" in capped["why"]


def test_traces_that_share_inputs_never_straddle_a_fold() -> None:
    import numpy as np

    from accord.align.checks.folds import fold_splits

    y = np.array([0, 1] * 20)
    groups = np.repeat(np.arange(10), 4)  # four outputs for each of ten source documents
    splits = fold_splits(y, groups, 5, seed=0)
    assert len(splits) == 5
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    assert len(fold_splits(y, np.arange(40), 5, seed=0)) == 5  # distinct inputs: plain stratified folds


def test_the_memory_reads_the_words_that_mark_a_verdict_where_the_embeddings_see_nothing() -> None:
    """'hash:1' puts every text on the same vector, so only the memory's words can tell the promises apart;
    the model's own probability is a coin toss and no check is written."""
    script = fake.script("coin", lambda r: Completion(text='{"result": "yes"}', choice_probabilities={"yes": 0.5}))
    filler = ["thanks for writing", "sorry about the wait", "happy to help", "good question", "hope this helps"]

    def trace(i: int, prefix: str, promise: bool) -> Trace:
        said = "your refund is issued today" if promise else "the returns team will confirm the outcome"
        expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
        value = "no" if promise else "yes"
        return Trace(
            trace_id=f"{prefix}{i}",
            inputs={"question": f"order {i}"},
            outputs=f"{filler[i % 5]}, {said} (order {i})",
            assessments=[Feedback(name="policy", value=value, rationale="", source=expert)],
        )

    traces = [trace(i, "t", i % 2 == 0) for i in range(30)]
    optimizer = MemAlignOptimizer(
        embedding_model="hash:1", show_progress=False, cv_repeats=2, candidates=["base", "memory"]
    )
    aligned = _judge("fake:/coin").align(traces, optimizer)
    assert aligned.selection["chosen"] == "memory", aligned.selection["reason"]
    assert aligned.fitted is not None and aligned.fitted.memory_words > 0
    learned = dict(aligned.fitted.learned_words())  # what the memory learned, shown with its weight
    assert {"refund", "issued"} & set(learned["no"]) and {"team", "confirm"} & set(learned["yes"]), learned
    shown = aligned.fitted.weights()[0]["feature"]
    assert shown.startswith("the memory classifier's probability of 'no' (its words for 'no': "), shown
    assert "'order'" not in shown  # in every answer: it tells nothing
    again = judge_from_dict(json.loads(json.dumps(aligned.to_dict())))
    script.requests.clear()
    for i in range(6):
        case = trace(100 + i, "new", i % 3 == 0)
        expected = case.assessments[0].value
        verdict = aligned(trace=case)
        assert verdict.value == expected and again(trace=case).value == expected
        assert "its words that weighed most: " in verdict.rationale
        if expected == "no":  # the explanation names the words the experts' 'no' examples had in common
            assert "'refund'" in verdict.rationale or "'issued'" in verdict.rationale, verdict.rationale
    assert not script.requests  # a verdict of the memory alone asks the model nothing


def test_a_decision_stored_before_the_memory_read_words_reads_the_embeddings_alone() -> None:
    vectors = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array([0, 1] * 10)
    features = CaseFeatures(np.full((20, 2), np.nan), np.zeros((20, 0)), vectors)
    decision = fit_decision("memory", features, y, ["no", "yes"], False, [], False)
    stored = decision.to_dict()
    assert decision.memory_words == 0 and "memory_words" not in stored
    assert FittedDecision.from_dict(stored).predict(features)[0].tolist() == decision.predict(features)[0].tolist()
    words = CaseFeatures(features.judge, features.checks, vectors, words=np.eye(20, 4))
    with_words = fit_decision("memory", words, y, ["no", "yes"], False, [], False)
    assert with_words.to_dict()["memory_words"] == 4 and len(with_words.memory.mean) == 7
    with pytest.raises(ValueError, match="4 buckets of words"):
        with_words.predict(features)
    damaged = {**with_words.to_dict(), "memory_words": 9}
    with pytest.raises(AccordError, match="9 buckets of words does not match"):
        FittedDecision.from_dict(damaged)


@pytest.mark.parametrize("classes", [["bad", "fair", "good"], [1, 2, 3]])
def test_a_memory_of_words_on_a_scale_or_numbers_explains_itself_and_reloads_alike(classes: list[Any]) -> None:
    marks = ["broken and late", "fine I suppose", "perfect and early"]
    texts = [f"{marks[i % 3]} delivery number {i}" for i in range(30)]
    y = np.array([i % 3 for i in range(30)])
    rng = np.random.default_rng(1)
    words = hashed_words(texts, 64)
    features = CaseFeatures(np.full((30, 3), np.nan), rng.random((30, 1)), rng.normal(size=(30, 4)), words=words)
    regression = isinstance(classes[0], int)
    decision = fit_decision("checks+memory", features, y, classes, regression, ["q"], False)
    decision.remember_words(texts)
    learned = dict(decision.learned_words())
    assert set(learned) == ({"higher", "lower"} if regression else set(classes))
    assert (
        "perfect" in learned["higher" if regression else "good"]
        or "early" in learned["higher" if regression else "good"]
    )
    again = FittedDecision.from_dict(json.loads(json.dumps(decision.to_dict())))
    assert again.predict(features)[0].tolist() == decision.predict(features)[0].tolist()
    index = int(decision.predict(features.rows([2]))[0][0])
    said = decision.explain(features.rows([2]), index, ["q"], texts[2])
    assert said == again.explain(features.rows([2]), index, ["q"], texts[2])
    assert decision.marking_words(features.rows([2]), index, "") == []
    assert all(w in texts[2] for w in decision.marking_words(features.rows([2]), index, texts[2]))
    rows = decision.weights(["q"])
    assert sum("its words for" in row["feature"] for row in rows) <= 1  # said once, on the memory's first row


def test_a_case_word_is_named_only_when_it_is_the_word_its_bucket_stands_for() -> None:
    texts = [("refund issued now" if i % 2 else "team will confirm") + f" case {i}" for i in range(20)]
    y = np.array([i % 2 for i in range(20)])
    features = CaseFeatures(
        np.full((20, 2), np.nan), np.zeros((20, 0)), np.zeros((20, 0)), words=hashed_words(texts, 8)
    )
    decision = fit_decision("memory", features, y, ["yes", "no"], False, [], False)
    decision.remember_words(texts)
    known = set(decision.extra["memory_vocabulary"].values())
    unseen = "zebra giraffe okapi quokka wombat lemur"
    case = CaseFeatures(np.full((1, 2), np.nan), np.zeros((1, 0)), np.zeros((1, 0)), words=hashed_words([unseen], 8))
    for index in (0, 1):  # eight buckets: the unseen words share them with trained ones, and are never named
        assert not set(decision.marking_words(case, index, unseen)) - known
        assert not decision.marking_words(case, index, unseen)
