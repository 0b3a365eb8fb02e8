import json
import warnings
from typing import Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

import accord
from accord.align import AlignmentError, MemAlignJudge, MemAlignOptimizer, align, load_optimizer
from accord.align.workflow import AlignmentWorseWarning, split_by_label
from accord.embeddings import others
from accord.errors import AccordError
from accord.judges import make_judge
from accord.store import get_store
from accord.store import schema as t
from tests.align.custom_optimizer import AppendRules
from tests.align.helpers import PROMISES, RULES, labelled_traces, play, says_no_when_promised


def _judge(model: str = "fake:") -> accord.judges.Judge:
    return make_judge(
        "policy", "Does {{ outputs }} follow the policy?", model=model, feedback_value_type=Literal["yes", "no"]
    )


def _aligned(model: str = "fake:") -> MemAlignJudge:
    play(RULES)
    return _judge(model).align(labelled_traces(20), MemAlignOptimizer(embedding_model="hash", show_progress=False))


def test_register_and_load_restores_the_aligned_judge_exactly_without_embedding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aligned = _aligned()
    version = aligned.register(name="policy_aligned", tags={"num_traces": "20"})
    assert version == 1 and aligned.key == "policy_aligned@1"

    def no_embedding(self, texts):
        raise AssertionError("loading must not embed")

    monkeypatch.setattr(others.HashingEmbedder, "embed", no_embedding)
    loaded = accord.get_judge("policy_aligned")
    assert isinstance(loaded, MemAlignJudge) and loaded.name == "policy"  # feedback name unchanged
    assert loaded.to_dict() == aligned.to_dict()
    assert (loaded.memory.vectors == aligned.memory.vectors).all()
    assert loaded.version == 1 and loaded.key == "policy_aligned@1"
    assert [v.version for v in accord.list_judge_versions("policy_aligned")] == [1]


def test_versions_count_up_and_load_by_version() -> None:
    judge = _judge()
    assert judge.register() == 1
    aligned = _aligned()
    assert aligned.register() == 2
    assert not isinstance(accord.get_judge("policy", version=1), MemAlignJudge)
    assert not isinstance(accord.get_judge("policy"), MemAlignJudge)  # the champion: version 1
    assert isinstance(accord.get_judge("policy", version=2), MemAlignJudge)
    assert [j.version for j in accord.list_judges()] == [2]
    assert accord.delete_judge("policy", version=1) == 1
    with pytest.raises(AccordError, match="no judge 'policy' version 1"):
        accord.get_judge("policy", version=1)


def test_entry_written_by_a_newer_schema_is_refused_clearly() -> None:
    spec = _judge().to_dict() | {"spec_version": 99}
    get_store().register_judge("future", spec, None, {})
    with pytest.raises(AccordError, match="spec_version 99, newer than this accord understands"):
        accord.get_judge("future")


def test_registry_is_never_half_written() -> None:
    class Unstorable(type(_judge())):
        def to_dict(self):
            return {**super().to_dict(), "bad": object()}

    judge = Unstorable("policy", "{{ outputs }}", model="fake:")
    with pytest.raises(StatementError):
        judge.register()
    with get_store().engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.judges)).scalar() == 0


def test_aligned_judge_keeps_working_after_its_example_traces_are_deleted() -> None:
    exp = accord.set_experiment("exp")
    get_store().insert_traces(labelled_traces(12), exp.experiment_id)
    play(RULES, verdict=says_no_when_promised)
    traces = accord.search_traces(experiment_ids=[exp.experiment_id])
    aligned = _judge().align(traces, MemAlignOptimizer(embedding_model="hash", show_progress=False))
    aligned.register()
    assert accord.delete_traces([tr.trace_id for tr in traces]) == 12
    loaded = accord.get_judge("policy")
    verdict = loaded(outputs="I have issued a full refund for order 3.")
    assert verdict.error is None and verdict.value == "no"
    assert len(loaded.memory) == 12  # the examples carry their own text and vectors


def test_custom_optimizer_plugs_in_directly_and_by_module_path() -> None:
    traces = labelled_traces(12)
    judge = _judge()
    aligned = judge.align(traces, AppendRules())
    assert "Experts' reasons:" in aligned.instructions and aligned.name == "policy"
    loaded = load_optimizer("tests.align.custom_optimizer:AppendRules")
    assert isinstance(loaded, AppendRules)
    with pytest.raises(AlignmentError, match="cannot load optimizer"):
        load_optimizer("tests.align.custom_optimizer:Nope")
    with pytest.raises(AlignmentError, match="unknown optimizer"):
        load_optimizer("bogus")


def test_optimizer_returning_the_input_judge_is_refused() -> None:
    class Lazy(AppendRules):
        def align(self, judge, traces):
            return judge

    with pytest.raises(AlignmentError, match="returned the input judge"):
        _judge().align(labelled_traces(12), Lazy())


def test_split_keeps_label_mix_and_groups_together() -> None:
    traces = labelled_traces(40)
    for i, trace in enumerate(traces):
        trace.tags["source"] = f"doc{i // 4}"
    train, held = split_by_label(traces, "policy", 0.25, group_by="source")
    assert {tr.tags["source"] for tr in train}.isdisjoint({tr.tags["source"] for tr in held})
    assert 6 <= len(held) <= 14


def test_validation_reports_before_and_after_on_held_out_traces() -> None:
    play(RULES, verdict=says_no_when_promised)
    result = align(
        _judge(), labelled_traces(40), MemAlignOptimizer(embedding_model="hash", show_progress=False), validation=0.25
    )
    report = result.to_dict()
    assert not hasattr(result.judge, "alignment_report")  # the figures come back with the judge, not on it
    assert report["held_out"] == 10 and report["train"] == 30
    assert report["before"]["accuracy"] == 0.5 and report["after"]["accuracy"] == 1.0
    assert report["after"]["cohen_kappa"] > report["before"]["cohen_kappa"]
    assert report["after"]["kappa_ci"][0] <= report["after"]["cohen_kappa"]
    json.dumps(report)


def test_validation_warns_loudly_when_the_aligned_judge_is_worse() -> None:
    def contrarian(request):
        promised = any(p in request.messages[-1]["content"].rsplit("<outputs>", 1)[-1] for p in PROMISES)
        wrong = "yes" if promised else "no"  # the opposite of the experts
        return wrong if "What the domain experts check" in request.messages[0]["content"] else "no"

    play(RULES, verdict=contrarian)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _judge().align(  # prompt-only MemAlign: by default a judge that cross-validates worse is not chosen
            labelled_traces(40),
            MemAlignOptimizer(embedding_model="hash", show_progress=False, candidates=["prompt"]),
            validation=0.25,
        )
    assert any(issubclass(w.category, AlignmentWorseWarning) and "WORSE" in str(w.message) for w in caught)


def test_a_damaged_registry_entry_is_named_and_every_other_judge_keeps_working() -> None:
    from sqlalchemy import text

    from accord.errors import AccordError
    from accord.registry import get_judge, list_judge_versions, list_judges
    from accord.store import get_store

    good = make_judge("good", "Is {{ outputs }} fine?", model="fake:", feedback_value_type=Literal["yes", "no"])
    good.register()
    bad = make_judge("bad", "Is {{ outputs }} fine?", model="fake:", feedback_value_type=Literal["yes", "no"])
    bad.register()
    bad.register()
    with get_store().engine.begin() as conn:  # what a crashed editor or a bad disk leaves behind
        conn.execute(text("UPDATE judges SET spec = '{\"name\": \"bad' WHERE name = 'bad' AND version = 2"))
    listed = {(v.name, v.version): v.to_dict()["kind"] for v in list_judges()}
    assert listed == {("good", 1): "instructions", ("bad", 2): "damaged"}
    assert [v.to_dict()["kind"] for v in list_judge_versions("bad")] == ["instructions", "damaged"]
    with pytest.raises(AccordError, match=r"registered judge bad@2 is damaged in the registry \(Unterminated"):
        get_judge("bad", 2)
    assert get_judge("bad", 1).name == "bad" and get_judge("good")(outputs="hi").error is None
