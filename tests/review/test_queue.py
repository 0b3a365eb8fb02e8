"""The review queue's order, filters and freshness, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from accord import api
from accord.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Feedback
from accord.review.queue import ReviewQueue
from accord.store import get_store
from tests.review.conftest import Populated, human


def verdict(trace_id: str, value: str | None, key: str, error: bool = False) -> Feedback:
    return Feedback(
        trace_id=trace_id,
        name="policy",
        value=value,
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="fake:"),
        metadata={"judge_key": key},
        error=AssessmentError(error_code="OutputParseError", error_message="no JSON") if error else None,
    )


def queue_of(populated: Populated) -> ReviewQueue:
    store = get_store()
    return ReviewQueue(store, store.resolve_experiment(populated.experiment).experiment_id, "policy")


def test_order_reviewed_last_then_disagreement_error_unjudged_newest(populated: Populated) -> None:
    api.log_assessments(
        [
            verdict("t013", "no", "policy@2"),  # t013: v1 said yes, v2 says no
            verdict("t014", None, "policy@1", error=True),  # newer than its good verdict: unsure
        ]
    )
    order = [e.trace_id for e in queue_of(populated).page(limit=100).entries]
    assert order[:3] == ["t013", "t014", "xss"]  # disagreement, error, then unjudged (newest first)
    assert order[3:11] == ["t023", "t022", "t021", "t020", "t019", "t018", "t017", "t016"]  # unjudged
    assert order[11:13] == ["t015", "t012"]  # judged, agreeing
    assert set(order[13:]) == {f"t{i:03d}" for i in range(12)}  # reviewed last
    entries = {e.trace_id: e for e in queue_of(populated).page(limit=100).entries}
    assert entries["t013"].reason == "judge versions disagree"
    assert entries["t014"].reason.startswith("judge unsure")


def test_filters_by_tag_and_verdict(populated: Populated) -> None:
    queue = queue_of(populated)
    says_no = queue.page(limit=100, judge_says="no").entries
    assert {e.trace_id for e in says_no} == {"t000", "t003", "t006", "t009", "t012", "t015"}
    shipping = queue.page(limit=100, tag="topic=shipping")
    assert shipping.total == 12 and all(e.tags["topic"] == "shipping" for e in shipping.entries)
    both = queue.page(limit=100, tag="topic=shipping", judge_says="no")
    assert {e.trace_id for e in both.entries} == {"t003", "t009", "t015"}
    assert "topic=returns" in queue.tag_choices()


def test_new_feedback_moves_a_trace_to_the_end(populated: Populated) -> None:
    queue = queue_of(populated)
    assert queue.page().unreviewed == 13
    api.log_assessments([human("t015", "no", who="bo")])
    queue.refresh(wait=True)
    page = queue.page(limit=100)
    assert page.unreviewed == 12
    assert [e.trace_id for e in page.entries].index("t015") >= 12


def test_refresh_serves_the_last_order_while_rebuilding(populated: Populated) -> None:
    queue = queue_of(populated)
    queue.page()
    api.log_assessments([human("t016", "yes", who="bo")])
    stale = queue.page()  # starts a background rebuild, answers at once
    assert stale.unreviewed in (12, 13)
    deadline = time.monotonic() + 10
    while queue.page().unreviewed != 12:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_next_for_skips_what_the_reviewer_did(populated: Populated) -> None:
    queue = queue_of(populated)
    first = queue.next_for("bo")
    assert first == "xss"
    api.log_assessments([human("xss", "no", who="bo")])
    queue.refresh(wait=True)
    assert queue.next_for("bo") == "t023"
    assert queue.next_for("ana", after="xss") == "t023"
    # traces nobody reviewed come first for everyone; bo's review does not count as ana's
    assert queue.next_for("ana", tag="topic=returns") == "t022"
    ana_order = [e.trace_id for e in queue.page(limit=100).entries if "ana" not in e.reviewers]
    assert "xss" in ana_order and "t000" not in ana_order


def test_changed_feedback_is_applied_incrementally_new_traces_rebuild(populated: Populated) -> None:
    queue = queue_of(populated)
    queue.page()
    assert queue.last_refresh == "full"
    time.sleep(0.002)  # a later millisecond than anything read so far
    api.log_assessments([verdict("t015", "yes", "policy@2"), human("t013", "yes", who="bo")])
    queue.refresh(wait=True)
    assert queue.last_refresh == "incremental"
    page = queue.page(limit=100)
    order = [e.trace_id for e in page.entries]
    assert order[0] == "t015" and page.entries[0].reason == "judge versions disagree"
    assert order.index("t013") >= page.unreviewed == 12
    store = get_store()
    extra = api.get_trace("t000").model_copy(update={"trace_id": "t999", "assessments": []})
    store.insert_traces([extra], store.resolve_experiment(populated.experiment).experiment_id)
    queue.refresh(wait=True)
    assert queue.last_refresh == "full"
    assert "t999" in [e.trace_id for e in queue.page(limit=100).entries]


def test_a_trace_the_judge_abstained_on_comes_first(populated: Populated) -> None:
    abstained = verdict("t015", None, "policy@3")
    abstained.metadata.update({"abstained": True, "confidence": 0.55, "abstain_below": 0.8})
    api.log_assessments([verdict("t013", "no", "policy@2"), abstained])
    entries = queue_of(populated).page(limit=100).entries
    assert [e.trace_id for e in entries[:2]] == ["t015", "t013"]
    assert entries[0].reason == "judge abstained (below its confidence threshold)"


def test_overruled_and_least_confident_verdicts_come_before_confident_ones(populated: Populated) -> None:
    sure = verdict("t017", "yes", "policy@3")  # traces no version had judged yet
    sure.metadata.update({"confidence": 0.97})
    unsure = verdict("t018", "yes", "policy@3")
    unsure.metadata.update({"confidence": 0.55})
    overruled = verdict("t019", "no", "policy@3")
    overruled.metadata.update({"confidence": 0.9, "overruled_judge": True})
    api.log_assessments([sure, unsure, overruled])
    entries = queue_of(populated).page(limit=100).entries
    order = [e.trace_id for e in entries]
    assert order[0] == "t019" and entries[0].reason == "the checks overruled the judge's own verdict"
    assert order.index("t018") < order.index("t017")  # judged: the less confident first


def test_enough_feedback_when_the_interval_stops_narrowing_or_clears_a_target() -> None:
    from accord.registry import JudgeVersion
    from accord.review.dashboard import enough_feedback

    def row(version: int, labels: int, low: float, high: float) -> JudgeVersion:
        chosen = {"name": "checks", "cv_kappa_ci": [low, high]}
        spec = {"name": "policy", "selection": {"chosen": "checks", "candidates": [chosen], "cv": {"traces": labels}}}
        return JudgeVersion("policy", version, None, {}, 0, spec, None)

    narrowing = enough_feedback([row(2, 20, 0.1, 0.7), row(3, 40, 0.3, 0.7)], "policy")
    assert narrowing is not None and not narrowing["enough"] and "still narrowing" in narrowing["why"]
    stopped = enough_feedback([row(2, 40, 0.3, 0.7), row(3, 60, 0.31, 0.7)], "policy")
    assert stopped is not None and stopped["enough"] and "stopped narrowing" in stopped["why"]
    cleared = enough_feedback([row(2, 20, 0.55, 0.9)], "policy", target=0.5)
    assert cleared is not None and cleared["enough"] and "clears 0.50" in cleared["why"]
    assert enough_feedback([], "policy") is None
