"""Bulk evaluation on a real Ray head started on 127.0.0.1: judges in Ray actors, a shared rate limit,
resumable runs, files that never enter the store, and the driver loop the thread engine shares (claims
renewed, traces another run holds waited for, a stop when the model cannot be reached)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.config import reload_settings
from accord.errors import RunStopped
from accord.evaluation.files import judge_files
from accord.importing import import_traces
from accord.judges import make_judge
from accord.llm.stub_server import StubServer
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl


def _verdicts(name: str = "quality") -> list:  # type: ignore[type-arg]
    return get_store().search_assessments(name=name, source_type="LLM_JUDGE")


def test_ray_engine_judges_every_trace_once_and_a_rerun_skips_them(ray_head: str, tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(40)]), "bulk")
    judge = make_judge(
        "quality", "Is {{ outputs }} good for {{ inputs }}?", model="fake:", feedback_value_type=Literal["yes", "no"]
    )
    result = accord.evaluate("bulk", [judge], concurrency=2, engine="ray", address=ray_head, show_progress=False)
    assert result.summary() == {"new": 40, "reused": 0, "errors": 0}
    stored = _verdicts()
    assert len(stored) == 40 and len({v.trace_id for v in stored}) == 40
    assert all(v.metadata["judge_key"] == judge.key for v in stored)
    again = accord.evaluate("bulk", [judge], engine="ray", address=ray_head, show_progress=False)
    assert again.summary() == {"new": 0, "reused": 40, "errors": 0} and len(_verdicts()) == 40


def test_a_429_slows_every_actor_not_only_the_one_that_got_it(ray_head: str, tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(24)]), "limited")
    # the 429 comes once both actors are warm; it asks for a 3 s pause
    with StubServer(latency_s=0.05, faults=[None] * 12 + [429], retry_after_s=3.0) as server:
        judge = make_judge(
            "quality",
            "Is {{ outputs }} good?",
            model=f"openai:/stub?base_url={server.base_url}",
            feedback_value_type=Literal["yes", "no"],
        )
        result = accord.evaluate("limited", [judge], concurrency=2, engine="ray", address=ray_head, show_progress=False)
        arrivals = list(server.arrivals)
    assert result.summary() == {"new": 24, "reused": 0, "errors": 0}, [v.error for v in result.errors][:2]
    limited_at = next(t for t, fault in arrivals if fault == 429)
    # the actor that got the 429 tells the others as soon as its client raises (within a second here)
    during = [t for t, _ in arrivals if limited_at + 1.2 < t < limited_at + 2.9]
    assert during == []  # no actor sent anything while the pause lasted
    assert len(arrivals) == 25  # every trace once, plus the one retried after the 429


def test_files_that_never_enter_the_store_on_ray_and_on_threads(ray_head: str, tmp_path: Path) -> None:
    rows = [trace_row(i) for i in range(30)]
    source = write_jsonl(tmp_path / "traces.jsonl", rows)
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: quality\ninstructions: 'Is {{ outputs }} good?'\nmodel: 'fake:'\nfeedback_value_type: bool\n"
    )
    runner = CliRunner()
    out = tmp_path / "verdicts"
    base = ["judges", "run", "--judge", str(spec), "--input", str(source), "--output", str(out), "--json"]
    first = runner.invoke(app, [*base, "--engine", "ray", "--address", ray_head, "-c", "2"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["new"] == 30
    table = pq.read_table(out).to_pylist()
    assert sorted(r["trace_id"] for r in table) == sorted(r["trace_id"] for r in rows)
    assert get_store().list_experiments() == []  # nothing went through the store
    again = runner.invoke(app, [*base, "--engine", "ray", "--address", ray_head])
    assert again.exit_code == 0 and json.loads(again.stdout)["new"] == 0

    threads_out = tmp_path / "verdicts-threads"
    on_threads = runner.invoke(
        app, ["judges", "run", "--judge", str(spec), "--input", str(source), "--output", str(threads_out), "--json"]
    )
    assert on_threads.exit_code == 0 and json.loads(on_threads.stdout)["new"] == 30
    assert pq.read_table(threads_out).num_rows == 30


def test_a_ray_run_stops_when_the_model_cannot_be_reached_keeping_what_it_finished(
    ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_MAX_RETRIES", "0")
    reload_settings()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # closed again below: connections are refused
    rows = [trace_row(i) for i in range(60)]
    import_traces(write_jsonl(tmp_path / "t.jsonl", rows), "down")
    judge = make_judge(
        "quality",
        "Is {{ outputs }} good?",
        model=f"openai:/any?base_url=http://127.0.0.1:{closed}/v1",
        feedback_value_type=Literal["yes", "no"],
    )
    with pytest.raises(RunStopped, match="5 verdicts in a row could not reach the model"):
        accord.evaluate("down", [judge], concurrency=1, engine="ray", address=ray_head, show_progress=False)
    stored = get_store().search_assessments(name="quality", source_type="LLM_JUDGE", include_invalid=True)
    assert 5 <= len(stored) < 60 and {a.error.error_code for a in stored} == {"MODEL_UNREACHABLE"}
    out = tmp_path / "verdicts"
    with pytest.raises(RunStopped):  # files on Ray too: what finished is written, the rest left for a re-run
        judge_files(
            write_jsonl(tmp_path / "f.jsonl", rows), [judge], out, engine="ray", address=ray_head, concurrency=1
        )
    assert 5 <= pq.read_table(out).num_rows < 60


def test_a_ray_run_renews_its_claims_and_waits_for_traces_another_run_holds(
    ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.evaluation import claims

    monkeypatch.setattr(claims, "CLAIM_LEASE_S", 1.0)
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(12)]), "shared")
    judge = make_judge(
        "quality",
        "Is {{ outputs }} good?",
        model="fake:/slow?latency_ms=400",
        feedback_value_type=Literal["yes", "no"],
    )
    store = get_store()
    ids = store.search_trace_ids([store.resolve_experiment("shared").experiment_id], newest_first=False)
    store.claim_traces(judge.key, ids[:1], "a-run-that-was-killed", lease_s=1.0)
    taken: list[set[str]] = []

    def rival() -> None:  # after several leases, another run tries to take every trace
        time.sleep(3.0)
        got = set(get_store().claim_traces(judge.key, ids[1:], "rival", lease_s=60))
        get_store().release_claims("rival")
        taken.append(got - {v.trace_id for v in _verdicts()})  # a claim is released after its verdict is stored

    watcher = threading.Thread(target=rival)
    watcher.start()
    result = accord.evaluate(
        "shared", [judge], concurrency=1, engine="ray", address=ray_head, threads_per_actor=1, show_progress=False
    )
    watcher.join()
    # claims renewed while the run lives: the rival got no trace the run had not finished
    assert taken == [set()]
    assert result.summary() == {"new": 12, "reused": 0, "errors": 0} and result.waited_for_others == 1
    stored = _verdicts()
    assert sorted(v.trace_id for v in stored) == sorted(ids)  # the killed run's trace too, once
