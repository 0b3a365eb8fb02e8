"""The shape of an aligned judge: its base judge plus one decider; the plain judge has no hooks for it; every edit
changes the verdicts or marks the decision stale; judges stored before this shape load and judge as they did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import accord
from accord.align import MemAlignJudge
from accord.align.memalign.deciders import BaseDecider, FittedDecider, PromptDecider
from accord.judges import Judge, judge_from_dict
from tests.align.helpers import PROMISES, labelled_traces
from tests.align.test_checks import _judge, _new_cases, _optimizer, checking_model

STORED = Path(__file__).parent / "data" / "aligned_judges_cdbfc01.json"


def _leaning(case: str) -> float:
    return 0.45 if any(p in case for p in PROMISES) else 0.7


def test_a_plain_judge_has_none_of_the_hooks_only_an_aligned_judge_used() -> None:
    for hook in ("prepare", "annotate", "decide", "_apply_decision", "alignment_report"):
        assert not hasattr(Judge, hook), hook
    import accord.judges.base as base

    assert not hasattr(base, "JUDGE_ACTIONS")  # no table filled by importing higher layers


def test_an_aligned_judge_is_its_base_plus_one_decider_and_passes_the_identity_through() -> None:
    checking_model()
    judge = _judge()
    aligned = judge.align(labelled_traces(20), _optimizer())
    assert isinstance(aligned.decider, FittedDecider) and aligned.mode == "fitted"
    assert aligned.base == judge and aligned.name == judge.name
    for field in ("instructions", "variables", "model", "value_type", "description", "inference_params"):
        assert getattr(aligned, field) == getattr(judge, field), field
    assert "instructions" not in vars(aligned)  # read from the base, not copied
    prompt = judge.align(labelled_traces(12), _optimizer(candidates=["prompt"]))
    assert isinstance(prompt.decider, PromptDecider) and prompt.fitted is None
    checking_model(task_p_yes=_leaning)
    kept = judge.align(labelled_traces(30), _optimizer(candidates=["base", "calibrated"]))
    assert isinstance(kept.decider, BaseDecider) and kept.result_first == judge.result_first


def test_every_edit_of_a_prompt_judge_changes_its_prompt_and_so_its_verdicts() -> None:
    script = checking_model()
    aligned = _judge().align(labelled_traces(12), _optimizer(candidates=["prompt"]))
    case = _new_cases(1)[0]

    def sent(judge: MemAlignJudge) -> tuple[str, str]:
        before = len(script.requests)
        judge(trace=case)
        request = script.requests[before]
        return request.messages[0]["content"], request.messages[-1]["content"]

    system, user = sent(aligned)
    shown = [r["trace_id"] for r in aligned(trace=case).metadata["retrieved"]]
    assert shown and all(f"Example {i}" in user for i in range(1, len(shown) + 1))
    forgotten = aligned.unalign(shown)
    assert forgotten.stale is None  # nothing to mark: the prompt reads the memory at every verdict
    assert sent(forgotten)[1] != user
    assert not set(shown) & {r["trace_id"] for r in forgotten(trace=case).metadata["retrieved"]}
    edited = aligned.with_guideline_sentences([*aligned.guidelines, "verdict 'no' when: it is rude"])
    assert "it is rude" in sent(edited)[0] and "it is rude" not in system
    added = MemAlignJudge.from_dict(aligned.to_dict())
    added.add_guideline("verdict 'no' when: it shouts")
    assert "it shouts" in sent(added)[0] and added.stale is None


def test_editing_checks_of_a_kept_base_judge_marks_it_stale() -> None:
    checking_model(task_p_yes=_leaning)
    kept = _judge().align(labelled_traces(30), _optimizer(candidates=["base", "calibrated"]))
    assert kept.mode == "base" and kept.checks
    edited = kept.with_check_questions([c.question for c in kept.checks][1:])
    assert edited.stale and "checks were edited" in edited.stale
    assert edited(trace=_new_cases(1)[0]).metadata["stale_decision"] is True
    assert kept.with_check_questions([c.question for c in kept.checks]).stale is None


@pytest.mark.parametrize("name", ["prompt", "calibrated", "fitted", "base", "base_abstaining"])
def test_a_judge_stored_before_this_shape_loads_and_gives_the_verdicts_it_gave(name: str) -> None:
    stored: dict[str, Any] = json.loads(STORED.read_text())[name]
    checking_model(task_p_yes=_leaning if stored["script"] == "leaning" else 0.8)
    judge = judge_from_dict(stored["spec"])
    assert isinstance(judge, MemAlignJudge) and judge.mode == stored["mode"]
    assert judge.fingerprint == stored["fingerprint"]
    assert json.loads(json.dumps(judge.to_dict(), default=str)) == stored["spec"]
    accord.set_experiment(f"stored-{name}")
    version = judge.register()
    judge = accord.get_judge(judge.name, version=version)
    for case, was in zip(_new_cases(4), stored["verdicts"], strict=True):
        verdict = judge(trace=case)
        assert verdict.value == was["value"] and verdict.rationale == was["rationale"], name
        assert verdict.metadata.get("confidence") == was["confidence"]
        assert verdict.metadata.get("decision") == was["decision"]
        assert [r["trace_id"] for r in verdict.metadata.get("retrieved", [])] == was["retrieved"]
