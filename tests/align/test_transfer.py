"""Alignment that transfers: folds that never switch themselves off, checks from the task and the policy,
conditions that are rules rather than cases, few labels, and one definition of the experts' label."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from typer.testing import CliRunner

import accord
from accord.align import AlignmentError, MemAlignJudge
from accord.align.checks.checklist import policy_checks, policy_rules, read_policy
from accord.align.checks.decision import CaseFeatures, FittedDecision, fit_decision
from accord.align.checks.folds import fold_splits
from accord.align.checks.transfer import case_terms, specificity
from accord.align.labels import collect_labels, scale_of, two_verdicts
from accord.demo import DATA
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.judges import make_judge
from accord.llm import fake
from accord.llm.types import ChatRequest, Completion
from accord.metrics import human_label
from tests.align.helpers import PROMISES, RULES, labelled_traces
from tests.align.test_checks import _case, _judge, _new_cases, _optimizer, _question, checking_model

POLICY = """# Support policy

1. Never promises a refund, replacement or credit on the company's behalf; explain the process.
2. Be polite and concise.
   Short answers are fine.

## Reference
- Returns: 60 days.
"""


def _same_inputs(n: int = 30) -> list[Trace]:
    """A judge that grades the output alone: every trace has the same inputs."""
    traces = labelled_traces(n)
    for trace in traces:
        trace.inputs = {"channel": "community forum post"}
    return traces


def test_traces_that_all_share_their_inputs_still_cross_validate_and_fit_a_separating_check() -> None:
    checking_model()
    aligned = _judge().align(_same_inputs(), _optimizer())
    selection = aligned.selection
    assert "not grouped" in selection["cv"]["grouping"] and "only 1 group" in selection["cv"]["grouping"]
    scored = {c["name"]: c["cv_kappa"] for c in selection["candidates"]}
    assert scored["checks"] is not None and scored["checks"] > 0.8 and scored["base"] == 0.0
    assert aligned.mode == "fitted" and selection["chosen"] != "base"
    assert any("promises" in c.question for c in aligned.checks)
    for trace in _new_cases():
        expected = "no" if any(p in str(trace.outputs) for p in PROMISES) else "yes"
        assert aligned(trace=trace).value == expected


def test_folds_fall_back_to_stratified_ones_when_groups_are_fewer_than_folds() -> None:
    y = np.array([0, 1] * 20)
    assert len(fold_splits(y, np.zeros(40, dtype=int), 5, seed=0)) == 5
    assert len(fold_splits(y, np.array([0, 1] * 20), 5, seed=0)) == 5
    for train, test in fold_splits(y, np.zeros(40, dtype=int), 5, seed=0):
        assert set(y[test]) == {0, 1} and len(set(train) & set(test)) == 0


def test_a_candidate_that_cannot_be_scored_says_so_instead_of_kappa_zero() -> None:
    checking_model()
    aligned = _judge().align(labelled_traces(20), _optimizer(candidates=["base", "calibrated", "checks"]))
    no_probabilities = {c["name"]: c for c in aligned.selection["candidates"]}
    assert no_probabilities["checks"]["cv_kappa"] is not None
    traces = [t for i, t in enumerate(labelled_traces(24)) if i % 2 or i < 6]  # 3 "no"
    aligned = _judge().align(traces, _optimizer())
    rows = {c["name"]: c for c in aligned.selection["candidates"]}
    assert rows["calibrated"]["cv_kappa"] is None and rows["calibrated"]["note"].startswith("not scored: ")
    from accord.cli.common import selection_lines

    lines = selection_lines(aligned)
    assert any(line.strip().startswith("calibrated") and "not scored" in line for line in lines)


# -- checks from the task -------------------------------------------------------------------------------


def test_policy_rules_are_read_from_numbered_items_with_their_continuation_lines() -> None:
    assert policy_rules(POLICY) == [
        "Never promises a refund, replacement or credit on the company's behalf; explain the process.",
        "Be polite and concise. Short answers are fine.",
    ]
    demo_rules = policy_rules((DATA.parent / "POLICY.md").read_text())
    assert len(demo_rules) == 6 and demo_rules[3].startswith("Any question about using a stove")
    assert all(len(rule) <= 400 for rule in demo_rules)
    assert demo_rules[1].endswith("Trail Points adjustments and ship dates.")
    assert policy_rules("- Cite the source.\n- Stay under 100 words.\n") == [
        "Cite the source.",
        "Stay under 100 words.",
    ]
    assert policy_rules("Answers must cite a source. Never invent a date.") == [
        "Answers must cite a source.",
        "Never invent a date.",
    ]


def test_a_policy_alone_gives_the_aligned_judge_its_checks_before_any_distilled_rule(tmp_path: Path) -> None:
    checking_model()
    path = tmp_path / "POLICY.md"
    path.write_text(POLICY)
    optimizer = _optimizer(distill_guidelines=False)
    aligned = _judge().align(labelled_traces(30), optimizer, policy=path)
    assert aligned.mode == "fitted" and aligned.selection["chosen"] != "base"
    report = {c["question"]: c for c in aligned.selection["checks"]}
    promise = next(q for q in report if "promises a refund" in q)
    assert promise.startswith("Does the case break this rule: Never promises a refund")
    assert report[promise]["origin"] == "policy" and report[promise]["kept"]
    assert [c.origin for c in aligned.checks] == ["policy"]
    assert optimizer.config()["policy"] == f"policy file {str(path)!r}"
    stored = MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert [c.origin for c in stored.checks] == ["policy"]
    for trace in _new_cases():
        expected = "no" if any(p in str(trace.outputs) for p in PROMISES) else "yes"
        assert aligned(trace=trace).value == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "is empty"), (b"\x00\x01rules", "is not text"), (b"\xff\xfe rules", "not UTF-8")],
)
def test_a_bad_policy_file_is_a_clear_error_naming_it(tmp_path: Path, content: bytes | None, message: str) -> None:
    checking_model()
    path = tmp_path / "rules.md"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AlignmentError, match=message) as caught:
        _judge().align(labelled_traces(20), _optimizer(), policy=str(path))
    assert str(path) in str(caught.value)
    with pytest.raises(AlignmentError, match="states no rule"):
        policy_checks("ok")
    assert read_policy("Never promise a refund.\nBe polite.")[1] == "the policy text given"


def test_the_instructions_become_a_checklist_of_narrow_questions() -> None:
    def reply(request: ChatRequest) -> Any:
        if "questions" in (request.json_schema or {}).get("properties", {}):
            assert "helpful, polite" in request.messages[-1]["content"]
            return {"questions": ["Is the answer polite?", "Does it promise a refund?", "not a question", "<x>?"]}
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": RULES["no"]}
        promised = any(p in _case(request) for p in PROMISES)
        p_yes = (0.9 if promised else 0.1) if "promise" in _question(request) else 0.6
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    fake.script("checks", reply)
    judge = make_judge(
        "policy",
        "Decide whether the answer in {{ outputs }} is acceptable: helpful, polite and within the policy.",
        model="fake:/checks",
        feedback_value_type=Literal["yes", "no"],
    )
    aligned = judge.align(labelled_traces(30), _optimizer(distill_guidelines=False))
    origins = {c["question"]: c["origin"] for c in aligned.selection["checks"]}
    assert origins == {"Is the answer polite?": "instructions", "Does it promise a refund?": "instructions"}
    assert [c.question for c in aligned.checks] == ["Does it promise a refund?"]
    off = judge.align(labelled_traces(30), _optimizer(distill_guidelines=False, task_checklist=False))
    assert off.selection["checks"] == []


def test_align_command_takes_a_policy_file(tmp_path: Path) -> None:
    from accord.cli import app
    from accord.store import get_store

    checking_model()
    store = get_store()
    exp = store.get_or_create_experiment("support")
    store.insert_traces(labelled_traces(30), exp.experiment_id)
    _judge().register()
    path = tmp_path / "POLICY.md"
    path.write_text(POLICY)
    runner = CliRunner()
    args = ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash", "--policy", str(path), "--json"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any(c["origin"] == "policy" for c in report["selection"]["checks"])
    missing = runner.invoke(app, [*args[:-3], "--policy", str(tmp_path / "nope.md")])
    assert missing.exit_code != 0 and "nope.md" in missing.output


# -- conditions that are rules, not cases ------------------------------------------------------------------


def test_terms_that_can_name_one_case_are_found_and_measured_against_other_traces() -> None:
    assert case_terms('The summary describes Myles, not Anderson, and says "sold out" at $75 (rule 6)') == [
        "$75",
        "sold out",
        "Myles",
        "Anderson",
    ]
    assert case_terms("promises a refund, replacement or credit") == []
    found = specificity("describes Myles, not Anderson", ["myles won"], ["anderson lost", "a b", "c d", "e f"])
    assert found.names_one_case and list(found.terms) == ["Myles"]  # Anderson is in no source: the expert's word


def _summaries(n: int = 30) -> list[Trace]:
    """Half the summaries add a claim their source lacks (experts: 'no'); each names its own person."""
    names = ["Myles", "Anderson", "Priya", "Okafor", "Lindqvist", "Tanaka"]
    traces = []
    for i in range(n):
        bad = i % 2 == 0
        person = names[i % len(names)] + str(i)
        output = f"{person} won the prize." + (" He also bought a farm." if bad else "")
        expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
        traces.append(
            Trace(
                trace_id=f"s{i}",
                inputs={"source": f"{person} won the prize at the fair number {i}."},
                outputs=output,
                assessments=[
                    Feedback(
                        name="policy",
                        value="no" if bad else "yes",
                        rationale=f"adds that {person} bought a farm" if bad else "faithful",
                        source=expert,
                    )
                ],
            )
        )
    return traces


def _summary_model(rewrite: str | None) -> fake.FakeScript:
    """Reflection names one case; asked to rewrite it, says `rewrite` (None: an error)."""

    def reply(request: ChatRequest) -> Any:
        system = request.messages[0]["content"]
        if "condition" in (request.json_schema or {}).get("properties", {}):
            if "note about one graded case" in system:
                if "Myles0" not in request.messages[-1]["content"]:
                    return {"condition": "the summary only repeats what the source says"}
                if rewrite is None:
                    raise accord.errors.ModelError("down", model="fake:", provider="fake")
                return {"condition": rewrite}
            if "verdict 'no'" in system:
                return {"condition": "the summary says Myles0 bought a farm"}
            return {"condition": "the summary only repeats what the source says"}
        added = "farm" in _case(request)
        p_yes = (0.9 if added else 0.1) if ("claim" in _question(request) or "farm" in _question(request)) else 0.5
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    return fake.script("checks", reply)


def test_a_condition_that_names_one_case_is_rewritten_as_the_rule_behind_it() -> None:
    script = _summary_model("the summary adds a claim the source does not make")
    aligned = _judge().align(_summaries(), _optimizer())
    questions = [c["question"] for c in aligned.selection["checks"]]
    assert "Is this true of the case: the summary adds a claim the source does not make?" in questions
    assert not any("Myles0" in q for q in questions)
    rewritten = [c for c in aligned.selection["conditions"] if c.get("as")]
    assert rewritten and "Myles0" in rewritten[0]["why"] and rewritten[0]["condition"].endswith("bought a farm")
    assert any("note about one graded case" in r.messages[0]["content"] for r in script.requests)


def test_a_condition_that_still_names_one_case_is_dropped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    for rewrite in ("the summary says Myles0 bought something", None):
        _summary_model(rewrite)
        with caplog.at_level(logging.DEBUG, logger="accord.align"):
            aligned = _judge().align(_summaries(), _optimizer())
        assert not any("Myles0" in c["question"] for c in aligned.selection["checks"])
        dropped = [c for c in aligned.selection["conditions"] if not c["kept"]]
        assert dropped and "names one case ('Myles0'" in dropped[0]["why"]


def test_an_experts_reason_is_never_asked_as_a_check() -> None:
    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return "not json"  # reflection fails: the batch keeps its most typical reason as a guideline
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": 0.6, "no": 0.4})

    fake.script("checks", reply)
    aligned = _judge().align(labelled_traces(20), _optimizer())
    assert aligned.guideline_list and all(g.from_reason for g in aligned.guideline_list)
    assert aligned.selection["checks"] == []
    assert all(
        c["why"].startswith("an expert's reason as written, not a rule; no rewrite")
        for c in aligned.selection["conditions"]
    )


def test_an_experts_reason_copied_back_as_the_rule_is_asked_as_the_rule_behind_it() -> None:
    reasons = [
        "issued a refund to Ann without the returns team",
        "said the replacement ships on Friday",
        "gave a credit",
    ]

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            if "note about one graded case" in request.messages[0]["content"]:
                return {"condition": "the answer commits the company to an outcome"}
            if "verdict 'no'" in request.messages[0]["content"]:
                return {"condition": reasons[0] + "."}  # one expert's reason, copied back
            return {"condition": "the answer explains the process"}
        promised = any(p in _case(request) for p in PROMISES)
        p_yes = (0.9 if promised else 0.1) if "commits" in _question(request) else 0.6
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    fake.script("checks", reply)
    traces = labelled_traces(20)
    for i, trace in enumerate(traces):
        if trace.assessments[0].value == "no":
            trace.assessments[0].rationale = reasons[i % 3]
    aligned = _judge().align(traces, _optimizer(grounding=False))
    questions = [c.question for c in aligned.checks]
    assert questions == ["Is this true of the case: the answer commits the company to an outcome?"]
    rewritten = aligned.selection["conditions"][0]
    assert rewritten["condition"] == reasons[0] and rewritten["kept"]
    assert rewritten["why"] == "rewritten: it was an expert's reason as written"


def test_each_check_reports_how_often_it_fires_outside_its_sources_and_in_how_many_folds_it_was_picked() -> None:
    checking_model()
    aligned = _judge().align(labelled_traces(30), _optimizer())
    rows = {c["question"]: c for c in aligned.selection["checks"]}
    promise = rows[f"Is this true of the case: {RULES['no']}?"]
    assert promise["picked_in_folds"] == 1.0 and promise["origin"] == "feedback" and promise["sources"] == 15
    assert promise["fires_outside_sources"] == 0.0  # it fires on its own 15 promises only: the 'yes' traces
    assert promise["separation_outside_sources"] is None  # every 'no' trace is one of its sources
    for row in rows.values():
        if row["sources"] == 0:  # written from the task, not from any trace: the same separation
            assert row["separation_outside_sources"] == row["separation"]


# -- few labels --------------------------------------------------------------------------------------------

LEVELS = ("excellent", "good", "fair", "poor")
QUALITY = {"excellent": 0.95, "good": 0.7, "fair": 0.45, "poor": 0.1}


def _scale_model() -> fake.FakeScript:
    """The base judge says 'good' to everything; the instructions' checklist asks whether the answer is
    complete, which the model answers by how complete the answer is."""

    def reply(request: ChatRequest) -> Any:
        if "questions" in (request.json_schema or {}).get("properties", {}):
            return {"questions": ["Is the answer complete?"]}
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the answer leaves out steps"}
        level = next(v for v in LEVELS if f"[{v}]" in _case(request))
        if "Is the answer complete?" in _question(request):
            p = QUALITY[level]
            return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p, "no": 1 - p})
        probs = {"excellent": 0.2, "good": 0.5, "fair": 0.2, "poor": 0.1}
        return Completion(text='{"result": "good"}', choice_probabilities=probs)

    return fake.script("scale", reply)


def _rated(levels: list[str], prefix: str = "r") -> list[Trace]:
    expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
    return [
        Trace(
            trace_id=f"{prefix}{i}",
            inputs={"question": f"how do I set up tent {i}"},
            outputs=f"Answer {i} [{level}]",
            assessments=[Feedback(name="quality", value=level, rationale=f"{level} answer", source=expert)],
        )
        for i, level in enumerate(levels)
    ]


def test_a_dozen_labels_on_a_four_level_scale_with_one_fair_example_get_an_ordinal_decision() -> None:
    _scale_model()
    judge = make_judge(
        "quality",
        "Rate the answer in {{ outputs }} to {{ inputs }}. Judge whether it is complete and correct.",
        model="fake:/scale",
        feedback_value_type=Literal["excellent", "good", "fair", "poor"],
    )
    labels = ["excellent"] * 4 + ["good"] * 4 + ["fair"] + ["poor"] * 3
    aligned = judge.align(_rated(labels), _optimizer())
    assert aligned.mode == "fitted" and aligned.selection["chosen"] == "shrunk"
    assert aligned.fitted is not None and aligned.fitted.on_scale
    assert aligned.selection["metric"] == "weighted kappa"
    scores = {c["name"]: c["cv_kappa"] for c in aligned.selection["candidates"]}
    assert scores["shrunk"] > scores["base"]
    new = _rated(["excellent", "good", "poor", "poor"], prefix="new")
    verdicts = [aligned(trace=t) for t in new]
    assert [v.value for v in verdicts] == ["excellent", "good", "poor", "poor"]
    assert "the base judge placed it at" in verdicts[0].rationale
    loaded = MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert [loaded(trace=t).value for t in new] == [v.value for v in verdicts]


def test_the_reference_workflows_free_text_judge_gets_the_scale_its_instructions_name() -> None:
    """The reference workflow's judge has no verdict type ("Rate as: excellent, good, fair, or poor"): a dozen
    expert labels in those words make it a judge of that scale, in that order, with a fitted decision."""
    _scale_model()
    judge = make_judge(
        "quality",
        "Rate the answer in {{ outputs }} to {{ inputs }}. Judge whether it is complete and correct. "
        "Rate as: excellent, good, fair, or poor",
        model="fake:/scale",
    )
    assert judge.value_type.kind == "str"
    labels = ["excellent"] * 4 + ["good"] * 4 + ["fair"] + ["poor"] * 3
    aligned = judge.align(_rated(labels), _optimizer())
    assert aligned.value_type.categories == LEVELS and aligned.name == "quality"
    assert aligned.mode == "fitted" and aligned.fitted is not None and aligned.fitted.on_scale
    new = _rated(["excellent", "good", "poor", "poor"], prefix="new")
    assert [aligned(trace=t).value for t in new] == ["excellent", "good", "poor", "poor"]
    assert judge.value_type.kind == "str"  # the judge aligned is unchanged
    assert scale_of("Is it good?", ["good", "a novel label"]) is None  # words the instructions do not name
    assert scale_of("Rate as good or bad", ["good", "bad "]) is None  # labels as written, not guessed at
    assert scale_of("Rate its goodness: bad or fine", ["good", "bad"]) is None  # "goodness" does not name "good"
    assert scale_of("Say Bad or Good.", ["good", "bad"]).categories == ("bad", "good")  # type: ignore[union-attr]


RATE_AS = "Rate the answer in {{ outputs }} to {{ inputs }}. Rate as: excellent, good, fair, or poor"


def _free_text_judge(
    name: str, typed: Callable[[str], dict[str, float]], given: Callable[[str], str]
) -> accord.judges.Judge:
    """The reference workflow's free-text judge on a scripted model: re-typed to the scale, it gives the
    probabilities `typed(case)`; as given, it answers `given(case)`; the checks carry no signal."""

    def reply(request: ChatRequest) -> Any:
        schema = request.json_schema or {}
        if "questions" in schema.get("properties", {}):
            return {"questions": ["Is the answer polite?"]}
        if "condition" in schema.get("properties", {}):
            return {"condition": "the answer is rude"}
        if "enum" in schema.get("properties", {}).get("result", {}):  # the re-typed copy
            probabilities = typed(_case(request))
            top = max(probabilities, key=probabilities.__getitem__)
            return Completion(text=json.dumps({"result": top}), choice_probabilities=probabilities)
        if "rationale" in schema.get("properties", {}):  # the judge as given: free text
            return {"rationale": "reads well", "result": given(_case(request))}
        return Completion(text='{"result": "no"}', choice_probabilities={"yes": 0.5, "no": 0.5})

    fake.script(name, reply)
    return make_judge("quality", RATE_AS, model=f"fake:/{name}")


def test_a_free_text_judge_kept_as_it_is_gives_its_own_verdicts_not_its_re_typed_copys() -> None:
    """Re-typed to its experts' scale, the reference workflow's judge may answer differently (here: always
    'excellent' where the judge as given says 'good'). The base judge the candidates must beat is the judge as
    given, and when it is kept, the aligned judge gives exactly its verdicts."""
    judge = _free_text_judge(
        "free",
        lambda case: {"excellent": 0.7, "good": 0.1, "fair": 0.1, "poor": 0.1},
        lambda case: "good" if "[good]" in case else "fair",
    )
    labels = ["excellent", "good", "fair", "poor"] * 3
    aligned = judge.align(_rated(labels), _optimizer())
    assert aligned.selection["chosen"] == "base" and aligned.mode == "base"
    base = next(c for c in aligned.selection["candidates"] if c["name"] == "base")
    assert base["note"] == "from its own free-text verdicts" and base["cv_accuracy"] == 0.5  # its good and fair
    new = _rated(["good", "poor", "excellent"], prefix="new")
    assert [aligned(trace=t).value for t in new] == [judge(trace=t).value for t in new] == ["good", "fair", "fair"]
    assert aligned.value_type.kind == "str"
    loaded = MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert [loaded(trace=t).value for t in new] == ["good", "fair", "fair"]


def test_a_free_text_judge_kept_as_it_is_abstains_on_its_re_typed_copys_probability() -> None:
    """With an agreement target, the kept judge still answers as given; its confidence is the re-typed copy's
    probability for that answer, the measure its threshold was calibrated on, and it survives a reload."""

    def typed(case: str) -> dict[str, float]:
        p = 0.45 if "[good]" in case or "[fair]" in case else 0.1
        return {"excellent": 0.1, "good": p, "fair": p, "poor": 0.1}

    judge = _free_text_judge("unsure", typed, lambda case: "Good" if "[good]" in case else "fair")
    aligned = judge.align(_rated(["excellent", "good", "fair", "poor"] * 3), _optimizer(), target_agreement=0.6)
    assert aligned.mode == "base" and aligned.abstention is not None
    assert aligned.abstention["threshold"] == pytest.approx(0.45 / 1.1, abs=1e-4)  # its share of the four
    new = _rated(["good", "poor"], prefix="new")
    for judged in (aligned, MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))):
        sure, unsure = (judged(trace=t) for t in new)
        assert sure.value == "Good" and sure.metadata["confidence"] == pytest.approx(0.4091)  # its words, as good
        assert unsure.metadata.get("would_have_said") == "fair" and unsure.metadata["confidence"] == 0.25


def test_a_free_text_judge_whose_experts_use_two_labels_it_does_not_name_gets_a_decision() -> None:
    """ "Is the answer right?" labelled "correct" / "incorrect": two verdicts need no order, so a decision is
    fitted to them instead of the prompt judge; the judge as given answers in sentences, off those labels,
    and is scored as missing every case."""

    def reply(request: ChatRequest) -> Any:
        schema = request.json_schema or {}
        if "questions" in schema.get("properties", {}):
            return {"questions": ["Does the answer give a wrong step?"]}
        if "condition" in schema.get("properties", {}):
            return {"condition": "the answer gives a wrong step"}
        if schema.get("properties", {}).get("result", {}).get("enum") == ["correct", "incorrect"]:  # no signal
            return Completion(text='{"result": "correct"}', choice_probabilities={"correct": 0.6, "incorrect": 0.4})
        if "rationale" in schema.get("properties", {}):  # the judge as given
            return {"rationale": "it reads well", "result": "Yes, it looks right to me."}
        wrong = "[incorrect]" in _case(request)
        p = 0.9 if wrong and "wrong step" in _question(request) else 0.1
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p, "no": 1 - p})

    fake.script("two", reply)
    judge = make_judge("right", "Is the answer in {{ outputs }} to {{ inputs }} right?", model="fake:/two")
    levels = ["correct", "incorrect"] * 6
    traces = _rated(levels)
    for trace in traces:
        trace.assessments[0].name = "right"
    aligned = judge.align(traces, _optimizer())
    assert aligned.value_type.categories == ("correct", "incorrect") and aligned.mode == "fitted"
    base = next(c for c in aligned.selection["candidates"] if c["name"] == "base")
    assert base["note"] == "from its own free-text verdicts (12 off the scale or failed, counted as misses)"
    new = _rated(["incorrect", "correct"], prefix="new")
    assert [aligned(trace=t).value for t in new] == ["incorrect", "correct"]
    assert two_verdicts(["pass", "fail", "pass"]) is not None and two_verdicts(["a", "b", "c"]) is None
    assert two_verdicts(["ok", "OK"]) is None and two_verdicts(["fine", "a long comment " * 5]) is None


def test_the_shrunk_decision_moves_the_base_judge_only_as_far_as_its_evidence_carries_it() -> None:
    judge = np.column_stack([np.full(12, 0.3), np.full(12, 0.7)])  # the base judge leans to class 1
    y = np.array([1] * 10 + [0] * 2)
    signal = np.where(y == 0, 0.9, 0.1)
    few = fit_decision(
        "shrunk", CaseFeatures(judge, signal[:, None], np.zeros((12, 0))), y, ["no", "yes"], False, ["q"], True
    )
    noise = np.random.default_rng(0).random(12)
    weak = fit_decision(
        "shrunk", CaseFeatures(judge, noise[:, None], np.zeros((12, 0))), y, ["no", "yes"], False, ["q"], True
    )
    assert abs(few.linear.coef[0][0]) > 3 * abs(weak.linear.coef[0][0])  # type: ignore[union-attr]
    assert few.predict(CaseFeatures(judge[:2], np.array([[0.9], [0.1]]), np.zeros((2, 0))))[0].tolist() == [0, 1]
    assert FittedDecision.from_dict(json.loads(json.dumps(few.to_dict()))).offset


# -- one label ---------------------------------------------------------------------------------------------


def test_one_definition_of_the_experts_label_trains_and_scores() -> None:
    trace = labelled_traces(1)[0]
    trace.assessments = []
    for reviewer, value, when in (("ann", "no", 1), ("bob", "no", 2), ("cy", "yes", 3), ("ann", "no", 4)):
        source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=reviewer)
        trace.assessments.append(Feedback(name="policy", value=value, source=source, create_time_ms=when))
    assert human_label(trace, "policy") == "no"  # the majority, not the newest ('yes')
    judge = _judge()
    assert collect_labels("policy", judge.value_type, [trace], minimum=1).labels[0].value == "no"
    tie = labelled_traces(1)[0]
    tie.assessments = [
        Feedback(name="policy", value=v, create_time_ms=t, source=AssessmentSource(source_type="HUMAN", source_id=r))
        for r, v, t in (("ann", "yes", 5), ("bob", "no", 9))
    ]
    assert human_label(tie, "policy") == "no" == collect_labels("policy", judge.value_type, [tie], 1).labels[0].value


# -- edits never go unnoticed ------------------------------------------------------------------------------


def test_every_edit_of_a_fitted_or_base_judge_marks_its_decision_stale_for_all_to_see() -> None:
    from accord.cli.common import selection_lines

    checking_model()
    fitted = _judge().align(labelled_traces(30), _optimizer())
    assert fitted.mode == "fitted" and fitted.stale is None
    checking_model(task_p_yes=lambda case: 0.1 if any(p in case for p in PROMISES) else 0.9)
    base = _judge().align(labelled_traces(30), _optimizer(candidates=["base", "calibrated"]))
    assert base.mode == "base" and base.stale is None
    for judge in (fitted, base):
        edits = {
            "unalign": judge.unalign(["t0", "t1"]),
            "guidelines": judge.with_guideline_sentences(["verdict 'no' when: it is rude"]),
        }
        for what, edited in edits.items():
            assert edited.stale, (judge.mode, what)
            assert judge.stale is None  # the original is untouched
            verdict = edited(trace=_new_cases(1)[0])
            assert verdict.metadata["stale_decision"] is True and verdict.metadata["stale_reason"] == edited.stale
            assert any("STALE" in line for line in selection_lines(edited))
            again = MemAlignJudge.from_dict(json.loads(json.dumps(edited.to_dict())))
            assert again.stale == edited.stale
        added = MemAlignJudge.from_dict(judge.to_dict())
        added.add_guideline("verdict 'no' when: it is rude")
        assert added.stale and "added" in added.stale
    unchanged = fitted.with_guideline_sentences(fitted.guidelines)
    assert unchanged.stale is None


def test_a_candidate_replaces_the_base_judge_only_when_its_paired_gain_is_reliably_above_zero() -> None:
    from accord.align.checks.selection import CandidateScore, choose

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 30)
    base = CandidateScore("base", 0.0, (0.0, 0.0), 0.5, oof=(np.zeros(60, dtype=int), np.ones(60)))
    lucky = np.where(rng.random(60) < 0.6, y, 1 - y)  # right 60% of the time: a small, noisy gain
    noisy = CandidateScore("calibrated", 0.1, (-0.1, 0.3), 0.6, oof=(lucky, np.ones(60)))
    chosen, reason = choose([base, noisy], y, ["no", "yes"])
    assert chosen == "base" and "not reliably above 0" in reason
    good = CandidateScore("checks", 0.8, (0.6, 0.9), 0.9, oof=(np.where(rng.random(60) < 0.95, y, 1 - y), np.ones(60)))
    chosen, reason = choose([base, noisy, good], y, ["no", "yes"])
    assert chosen == "checks" and "paired gain" in reason


def test_the_paired_gain_averages_the_candidate_over_every_repeat_of_the_folds() -> None:
    from accord.align.checks.selection import CandidateScore, paired_gain

    y = np.array([0, 1] * 30)
    base = CandidateScore("base", 0.0, (0.0, 0.0), 0.5, oof=(np.zeros(60, dtype=int), np.ones(60)))
    unlucky = 1 - y  # the first assignment of folds went badly; the four others were right
    score = CandidateScore("checks", 0.6, (0.4, 0.8), 0.8, oof=(unlucky, np.ones(60)), repeats=[unlucky, *[y] * 4])
    gain, low = paired_gain(score, base, y, ["no", "yes"], False)
    assert gain == pytest.approx((-1 + 4 * 1) / 5) and low > 0
    first_only = CandidateScore("checks", 0.6, (0.4, 0.8), 0.8, oof=(unlucky, np.ones(60)))
    assert paired_gain(first_only, base, y, ["no", "yes"], False)[0] == pytest.approx(-1)


def test_a_check_written_from_a_folds_own_cases_sits_that_fold_out() -> None:
    """A check distilled from one trace's reason would score that trace with its own answer; one that fifteen
    reasons share is the experts' rule, and a fold holding three of them still weighs it."""
    from accord.align.checks.selection import SignalPool

    y = np.array([0, 1] * 15)
    answers = np.column_stack([y * 0.8 + 0.1, y * 0.8 + 0.1])  # both separate the labels perfectly
    features = CaseFeatures(np.full((30, 2), np.nan), answers, np.zeros((30, 4)))
    one_case, shared = frozenset({3}), frozenset(range(1, 30, 2))
    pool = SignalPool(["about case 3?", "promises a refund?"], [], 0.2, 5, False, [one_case, shared])
    assert pool.select(features, y)[0] == [0, 1]
    assert pool.select(features, y, held_out=frozenset({3, 5, 7}))[0] == [1]
    assert pool.select(features, y, held_out=frozenset(range(1, 12, 2)))[0] == []  # six of its fifteen


def test_cross_validation_never_picks_a_check_in_a_fold_that_tests_the_case_it_was_written_from() -> None:
    from accord.align.checks.selection import SignalPool, cross_validate

    y = np.array([0, 1] * 15)
    rule = y * 0.8 + 0.1  # a task check that separates every case
    distilled = np.where(y == 0, 0.6, 0.05)  # separates as well, but was written from case 4's reason
    features = CaseFeatures(np.full((30, 2), np.nan), np.column_stack([rule, distilled]), np.zeros((30, 4)))
    pool = SignalPool(["a rule?", "about case 4?"], [], 0.2, 5, False, [frozenset(), frozenset({4})])
    _, share = cross_validate(features, y, ["no", "yes"], None, pool, ["checks"], repeats=2)
    assert share[0] == 1.0
    assert share[1] == pytest.approx(0.8)  # it separates on every fold's training rows, but sits out case 4's fold
