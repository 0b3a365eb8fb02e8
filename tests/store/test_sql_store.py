from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from accord.config import reload_settings
from accord.entities import Feedback, Trace
from accord.errors import NotFoundError
from accord.store import get_store
from accord.store.engine import head_revision


def test_store_is_sqlite_in_wal_mode_under_accord_home(accord_env: Path) -> None:
    store = get_store()
    assert (accord_env / "accord.db").exists()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    assert {"experiments", "traces", "trace_tags", "assessments", "judges"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_store_uri_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "elsewhere.db"
    monkeypatch.setenv("ACCORD_STORE_URI", f"sqlite:///{db}")
    reload_settings()
    get_store().get_or_create_experiment("x")
    assert db.exists()


def test_experiments_by_name_are_created_once() -> None:
    store = get_store()
    first = store.get_or_create_experiment("exp")
    assert store.get_or_create_experiment("exp").experiment_id == first.experiment_id
    assert store.resolve_experiment(first.experiment_id).name == "exp"
    with pytest.raises(NotFoundError, match="known: exp"):
        store.resolve_experiment("missing")


def test_insert_is_all_or_nothing() -> None:
    store = get_store()
    exp = store.get_or_create_experiment("exp")
    store.insert_traces([Trace(trace_id="a")], exp.experiment_id)
    with pytest.raises(IntegrityError):
        store.insert_traces([Trace(trace_id="b"), Trace(trace_id="a")], exp.experiment_id)  # 'a' collides
    assert store.existing_trace_ids(["a", "b"]) == {"a"}


def test_search_by_tag_assessment_and_order() -> None:
    store = get_store()
    exp = store.get_or_create_experiment("exp")
    traces = [
        Trace(trace_id=f"t{i}", request_time_ms=1000 + i, tags={"topic": "x" if i % 2 else "y"}) for i in range(6)
    ]
    traces[1].assessments.append(Feedback(name="quality", value="yes"))
    store.insert_traces(traces, exp.experiment_id)
    assert store.search_trace_ids([exp.experiment_id], tags={"topic": "x"}) == ["t5", "t3", "t1"]
    assert store.search_trace_ids([exp.experiment_id], newest_first=False, max_results=2) == ["t0", "t1"]
    assert store.search_trace_ids([exp.experiment_id], assessment_name="quality", assessment_source_type="HUMAN") == [
        "t1"
    ]


def test_missing_trace_is_a_clear_error() -> None:
    with pytest.raises(NotFoundError, match="no trace with id 'nope'"):
        get_store().get_trace("nope")
    with pytest.raises(NotFoundError, match="nothing was logged"):
        get_store().log_assessments([Feedback(trace_id="nope", name="x", value=1)])
