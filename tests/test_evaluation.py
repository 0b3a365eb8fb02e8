import threading
import time
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import text

import accord
from accord.importing import import_traces
from accord.judges import UserFrustration, make_judge
from accord.llm import fake
from accord.llm.types import ChatRequest
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl


def _experiment(tmp_path: Path, n: int = 20) -> str:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(n)]), "eval")
    return "eval"


def _judge(model: str = "fake:"):
    return make_judge(
        "quality",
        "Is {{ outputs }} good for {{ inputs }}?",
        model=model,
        feedback_value_type=Literal["yes", "no"],
    )


def _verdicts(name: str = "quality") -> list:
    return [a for a in get_store().search_assessments(name=name, source_type="LLM_JUDGE", include_invalid=True)]


def test_every_trace_gets_one_logged_verdict_recording_judge_and_model(tmp_path: Path) -> None:
    result = accord.evaluate(_experiment(tmp_path), [_judge()], concurrency=4, show_progress=False)
    assert result.summary() == {"new": 20, "reused": 0, "errors": 0}
    stored = _verdicts()
    assert len(stored) == 20
    assert all(v.metadata["judge_key"].startswith("quality#") and v.source.source_id == "fake:" for v in stored)


def test_rerun_reuses_verdicts_without_duplicates(tmp_path: Path) -> None:
    exp = _experiment(tmp_path)
    accord.evaluate(exp, [_judge()], show_progress=False)
    again = accord.evaluate(exp, [_judge()], show_progress=False)
    assert again.summary() == {"new": 0, "reused": 20, "errors": 0}
    assert len(_verdicts()) == 20


def test_interrupted_batch_keeps_finished_verdicts_and_rerun_completes(tmp_path: Path) -> None:
    exp = _experiment(tmp_path)
    calls = {"n": 0}
    lock = threading.Lock()

    def reply(_request: ChatRequest) -> dict:
        with lock:
            calls["n"] += 1
            if calls["n"] == 9:
                raise KeyboardInterrupt  # the user presses Ctrl-C mid-batch
        return {"rationale": "r", "result": "yes"}

    fake.script("ctrl-c", reply)
    with pytest.raises(KeyboardInterrupt):
        accord.evaluate(exp, [_judge("fake:/ctrl-c")], concurrency=1, show_progress=False)
    kept = len(_verdicts())
    assert 1 <= kept < 20
    fake.script("ctrl-c", [{"rationale": "r", "result": "yes"}] * 40)
    rerun = accord.evaluate(exp, [_judge("fake:/ctrl-c")], concurrency=4, show_progress=False)
    assert rerun.summary()["reused"] == kept and rerun.summary()["new"] == 20 - kept
    assert len(_verdicts()) == 20
    assert len({v.trace_id for v in _verdicts()}) == 20


def test_errored_verdicts_are_retried_on_rerun_and_override_the_old_ones(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, n=3)
    fake.script("flaky", ["garbage"] * 6)
    first = accord.evaluate(exp, [_judge("fake:/flaky")], show_progress=False)
    assert len(first.errors) == 3
    fake.script("flaky", [{"rationale": "r", "result": "no"}] * 3)
    second = accord.evaluate(exp, [_judge("fake:/flaky")], show_progress=False)
    assert second.summary() == {"new": 3, "reused": 0, "errors": 0}
    stored = _verdicts()
    assert len(stored) == 6  # nothing deleted
    assert sum(v.valid for v in stored) == 3 and all(v.overrides for v in stored if v.valid)


def test_a_trace_the_judge_cannot_read_is_an_errored_verdict_not_a_dead_batch(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, n=3)
    trace_judge = make_judge("t", "{{ trace }} {{ conversation }}", model="fake:")
    broken = make_judge("quality", "{{ outputs }}", model="fake:/boom", feedback_value_type=bool)
    fake.script("boom", [RuntimeError("provider exploded")] * 3)
    result = accord.evaluate(exp, [broken, trace_judge], show_progress=False)
    assert len(result.verdicts) == 6
    assert {v.error.error_code for v in result.errors} == {"RuntimeError"}


def test_an_errored_verdict_of_a_default_model_judge_names_that_model(tmp_path: Path, monkeypatch) -> None:
    exp = _experiment(tmp_path, n=2)
    judge = make_judge("quality", "{{ outputs }} {{ trace }}")  # model=None: ACCORD_DEFAULT_MODEL, here "fake:"
    monkeypatch.setattr(type(judge), "gather", lambda *a, **k: (_ for _ in ()).throw(ValueError("unreadable")))
    result = accord.evaluate(exp, [judge], show_progress=False)
    assert {v.source.source_id for v in result.errors} == {"fake:"}


def test_session_judges_run_once_per_session(tmp_path: Path) -> None:
    rows = [trace_row(i, session_id="s1" if i < 3 else "s2") for i in range(5)]
    import_traces(write_jsonl(tmp_path / "s.jsonl", rows), "sessions")
    result = accord.evaluate("sessions", [UserFrustration()], show_progress=False)
    assert sorted(v.trace_id for v in result.verdicts) == ["t-2", "t-4"]


def test_human_labels_outside_the_judge_type_are_left_out_of_agreement_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [trace_row(i, "yes" if i % 2 else "no") for i in range(6)] + [trace_row(6, "excellent")]
    import_traces(write_jsonl(tmp_path / "t.jsonl", rows), "labels")
    fake.script("", [{"rationale": "r", "result": "yes"}] * 7)
    judge = make_judge("quality", "Is {{ outputs }} good?", model="fake:", feedback_value_type=Literal["yes", "no"])
    report = accord.evaluate_agreement(judge, "labels", show_progress=False)
    assert report.agreement.n == 6 and report.agreement.extra["invalid_labels"] == 1
    assert "excellent" not in report.agreement.labels
    assert any("not Literal['yes', 'no'] values" in r.message and "t-6" in r.message for r in caplog.records)


def test_two_runs_of_one_judge_at_once_judge_every_trace_once(tmp_path: Path, store_uri: str) -> None:
    exp = _experiment(tmp_path, n=150)

    def slow(_request: ChatRequest) -> dict:
        time.sleep(0.003)
        return {"rationale": "r", "result": "yes"}

    fake.script("slow", slow)
    judge = _judge("fake:/slow")
    results: list = []
    runs = [
        threading.Thread(
            target=lambda: results.append(accord.evaluate(exp, [judge], concurrency=4, show_progress=False))
        )
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    stored = _verdicts()
    assert len(stored) == 150 and len({v.trace_id for v in stored}) == 150  # no trace judged twice
    assert sum(len(r.verdicts) for r in results) == 150 and all(r.verdicts for r in results)  # work was shared
    assert all({v.trace_id for v in r.all_verdicts()} == {v.trace_id for v in stored} for r in results)
    with get_store().engine.connect() as conn:  # every claim released
        assert conn.execute(text("SELECT count(*) FROM claims")).scalar() == 0


def test_a_claim_left_by_a_killed_run_lapses_and_its_trace_is_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.evaluation import claims as evaluation

    exp = _experiment(tmp_path, n=5)
    judge = _judge()
    monkeypatch.setattr(evaluation, "CLAIM_LEASE_S", 1.0)
    get_store().claim_traces(judge.key, ["t-0"], "a-run-that-was-killed", lease_s=1.0)
    started = time.monotonic()
    result = accord.evaluate(exp, [judge], show_progress=False)
    assert result.summary() == {"new": 5, "reused": 0, "errors": 0} and result.waited_for_others == 1
    assert time.monotonic() - started >= 0.9  # it waited for the lease, then took the trace over
    assert sorted(v.trace_id for v in _verdicts()) == [f"t-{i}" for i in range(5)]


def test_two_judge_run_processes_at_once_store_one_verdict_per_trace(tmp_path: Path) -> None:
    import subprocess
    import sys

    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(300)]), "eval")
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: quality\ninstructions: 'Is {{ outputs }} good for {{ inputs }}?'\n"
        "model: 'fake:/slow?latency_ms=100'\nfeedback_value_type: bool\n"
    )
    command = [
        sys.executable,
        "-m",
        "accord.cli",
        "judge",
        "run",
        "--judge",
        str(spec),
        "--experiment",
        "eval",
        "-c",
        "2",
    ]
    # both start together; alone, one would take 300 x 0.1 s / 2 = 15 s, so they overlap for certain
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    stored = _verdicts()
    assert len(stored) == 300 and len({v.trace_id for v in stored}) == 300
    new = [int(o.split(" new verdicts")[0].split()[-1]) for o in outputs]
    assert sum(new) == 300 and min(new) > 0, outputs  # each judged a share, none judged a trace twice


def test_a_thread_run_renews_its_claims_while_it_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guarantee the Ray engine is held to (tests/integrations/test_ray.py): claims do not lapse
    under a live run, so another run never takes a trace this one has not finished."""
    from accord.evaluation import claims

    monkeypatch.setattr(claims, "CLAIM_LEASE_S", 1.0)
    exp = _experiment(tmp_path, n=10)
    judge = _judge("fake:/slow?latency_ms=400")
    ids = get_store().search_trace_ids([get_store().resolve_experiment(exp).experiment_id], newest_first=False)
    taken: list[set[str]] = []

    def rival() -> None:  # after three leases, another run tries to take every trace
        time.sleep(3.0)
        got = set(get_store().claim_traces(judge.key, ids, "rival", lease_s=60))
        get_store().release_claims("rival")
        taken.append(got - {v.trace_id for v in _verdicts()})  # a claim is released after its verdict is stored

    watcher = threading.Thread(target=rival)
    watcher.start()
    result = accord.evaluate(exp, [judge], concurrency=1, show_progress=False)
    watcher.join()
    assert taken == [set()]
    assert result.summary() == {"new": 10, "reused": 0, "errors": 0}
