"""Code-based scorers beside LLM judges: stored as CODE feedback, errors per trace, built-ins, spec files."""

from __future__ import annotations

import inspect
import json
import threading
import time
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

import accord
import accord.judges.scorers as scorers_module
from accord.cli import app
from accord.entities import Feedback, Span, Trace
from accord.genai.scorers import Contains, ExactMatch, LatencyBudget, LengthBounds, RegexMatch, TokenBudget, ValidJson
from accord.importing import import_traces
from accord.judges import make_judge
from accord.metrics import human_label
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl


@accord.scorer
def mentions_order(outputs) -> bool:  # type: ignore[no-untyped-def]
    return "answer" in outputs


@accord.scorer(name="answer_length")
def length(inputs, outputs, expectations, trace) -> Feedback:  # type: ignore[no-untyped-def]
    return Feedback(name="answer_length", value=len(outputs), rationale=f"{len(outputs)} characters")


def test_scorers_run_beside_a_judge_as_code_feedback_that_never_counts_as_an_expert(tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(8)]), "mixed")
    judge = make_judge("quality", "Is {{ outputs }} good?", model="fake:", feedback_value_type=Literal["yes", "no"])
    result = accord.evaluate("mixed", [judge, mentions_order, length], show_progress=False)
    assert result.summary() == {"new": 24, "reused": 0, "errors": 0}
    store = get_store()
    code = store.search_assessments(source_type="CODE")
    assert {a.name for a in code} == {"mentions_order", "answer_length"} and len(code) == 16
    assert all(a.source.source_id.endswith((":mentions_order", ":length")) for a in code)
    assert {a.value for a in code if a.name == "mentions_order"} == {True}
    assert [a.rationale for a in code if a.name == "answer_length"][0].endswith("characters")
    again = accord.evaluate("mixed", [judge, mentions_order, length], show_progress=False)
    assert again.summary() == {"new": 0, "reused": 24, "errors": 0}
    trace = accord.get_trace("t-0")
    assert human_label(trace, "mentions_order") is None  # CODE feedback is never an expert's label
    assert mentions_order(outputs="an answer").value is True  # called directly, like a judge


def test_a_scorer_that_raises_gives_an_errored_feedback_and_the_batch_goes_on(tmp_path: Path) -> None:
    import_traces(write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(4)]), "faulty")

    @accord.scorer
    def picky(outputs) -> bool:  # type: ignore[no-untyped-def]
        if outputs.endswith("2"):
            raise ValueError("cannot score answer 2")
        return True

    result = accord.evaluate("faulty", [picky], show_progress=False)
    assert result.summary() == {"new": 4, "reused": 0, "errors": 1}
    (error,) = result.errors
    assert (
        error.trace_id == "t-2" and error.error.error_code == "ValueError" and "answer 2" in error.error.error_message
    )
    with pytest.raises(ValueError, match="unknown argument 'answer'"):
        accord.scorer(lambda answer: True)


def test_builtin_scorers() -> None:
    expected = {"expected_response": "Use the returns form.", "expected_facts": ["returns form", "30 days"]}
    assert ExactMatch()(outputs="use the  RETURNS form.", expectations=expected).value is True
    assert Contains()(outputs="Use the returns form within 30 days", expectations=expected).value is True
    missing = Contains()(outputs="Use the returns form", expectations=expected)
    assert missing.value is False and "30 days" in missing.rationale
    no_expectation = ExactMatch(expectation="nope")(outputs="x", expectations=expected)
    assert no_expectation.error.error_code == "MISSING_INPUT" and "nope" in no_expectation.error.error_message
    assert RegexMatch(r"order \d+")(outputs="see order 12").value is True
    assert ValidJson()(outputs='{"a": 1}').value is True and ValidJson()(outputs="{a:").value is False
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
    wrong = ValidJson(schema)(outputs=json.dumps({"answer": 3}))
    assert wrong.value is False and "answer" in wrong.rationale
    assert LengthBounds(max_chars=5)(outputs="too long").value is False
    spans = [
        Span(span_id="r", name="app", start_time_ms=0, end_time_ms=900),
        Span(span_id="c", parent_id="r", name="llm", attributes={"usage": {"total_tokens": 120}}),
        Span(
            span_id="d", parent_id="r", name="llm", attributes={"usage": {"prompt_tokens": 50, "completion_tokens": 40}}
        ),
    ]
    trace = Trace(trace_id="x", inputs="q", outputs="a", spans=spans)
    assert LatencyBudget(max_ms=1000)(trace=trace).value is True
    over = TokenBudget(max_tokens=200)(trace=trace)
    assert over.value is False and "210 tokens in 2 model calls" in over.rationale
    assert TokenBudget(max_tokens=10)(outputs="a").error.error_code == "MISSING_INPUT"
    with pytest.raises(ValueError, match="regular expression"):
        RegexMatch("(")


def test_a_scorers_source_is_read_once_and_never_from_two_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # reading a class's source parses its module with `ast`, which CPython 3.11 cannot do from two threads
    calls, inside, most = [0], [0], [0]
    real = inspect.getsource

    def slow_getsource(obj: object) -> str:
        calls[0] += 1
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        inside[0] -= 1
        return real(obj)  # type: ignore[arg-type]

    monkeypatch.setattr(scorers_module, "_SOURCES", {})
    monkeypatch.setattr(scorers_module.inspect, "getsource", slow_getsource)
    scorer = ExactMatch()
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(scorer.key)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys) == 6
    assert calls == [1] and most == [1]


def test_scorers_named_in_spec_files_run_from_the_cli(tmp_path: Path) -> None:
    rows = [trace_row(i, outputs="Thank you! " + str(i)) if i % 2 else trace_row(i) for i in range(4)]
    for row in rows:
        row["expectations"] = {"expected_response": row["outputs"]}
    runner = CliRunner()
    assert (
        runner.invoke(app, ["traces", "import", str(write_jsonl(tmp_path / "t.jsonl", rows)), "-e", "cli"]).exit_code
        == 0
    )
    (tmp_path / "polite.yaml").write_text("kind: scorer\npython: tests.judges.scorer_functions:polite\n")
    (tmp_path / "exact.yaml").write_text(
        "kind: scorer\nbuiltin: ExactMatch\nname: same_as_expected\nparams:\n  case_sensitive: true\n"
    )
    (tmp_path / "broken.yaml").write_text("kind: scorer\npython: tests.judges.scorer_functions:broken\n")
    (tmp_path / "missing.yaml").write_text("kind: scorer\npython: tests.judges.nope:polite\n")
    run = runner.invoke(
        app,
        [
            "judge",
            "run",
            "-e",
            "cli",
            "--judge",
            str(tmp_path / "polite.yaml"),
            "--judge",
            str(tmp_path / "exact.yaml"),
            "--judge",
            str(tmp_path / "broken.yaml"),
        ],
    )
    assert run.exit_code == 0, run.output
    assert "12 new verdicts" in run.output and "4 errors" in run.output and "this scorer has a bug" in run.output
    polite = get_store().search_assessments(name="polite", source_type="CODE")
    assert sorted(a.value for a in polite) == [False, False, True, True]
    assert {a.value for a in get_store().search_assessments(name="same_as_expected")} == {True}
    created = runner.invoke(app, ["judges", "create", str(tmp_path / "polite.yaml")])
    assert created.exit_code == 0 and accord.get_judge("polite").python == "tests.judges.scorer_functions:polite"
    missing = runner.invoke(app, ["judges", "run", "-e", "cli", "--judge", str(tmp_path / "missing.yaml")])
    assert missing.exit_code == 1 and "cannot load scorer 'tests.judges.nope:polite'" in missing.output


def test_a_stored_scorer_spec_imports_only_modules_the_user_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from accord.judges import judge_from_dict

    module = tmp_path / "teammate_code.py"
    module.write_text("import os\nos.environ['ACCORD_PWNED'] = '1'\ndef check(outputs):\n    return True\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")  # as `python -m accord.cli` puts the current directory first
    spec = {"kind": "scorer", "name": "check", "python": "teammate_code:check"}
    get_store().register_judge("check", spec, None, {})
    stored = accord.get_judge("check")  # reading or showing a stored spec imports nothing
    shown = CliRunner().invoke(app, ["judges", "show", "check"])
    assert shown.exit_code == 0 and "check version 1" in shown.output
    assert "ACCORD_PWNED" not in __import__("os").environ and "teammate_code" not in sys.modules
    refused = stored(outputs="x")  # running it needs the module allowed
    assert refused.error is not None and "ACCORD_SCORER_MODULES" in refused.error.error_message
    monkeypatch.setenv("ACCORD_SCORER_MODULES", "teammate_code")
    found = judge_from_dict(spec)(outputs="x")  # allowed, but never from the current directory
    assert found.error is not None and "cannot load scorer" in found.error.error_message
    assert "ACCORD_PWNED" not in __import__("os").environ and "teammate_code" not in sys.modules
    assert judge_from_dict(spec, trusted=True).name == "check"  # a spec the user hands over may import it
    sys.modules.pop("teammate_code", None)
    monkeypatch.delenv("ACCORD_PWNED", raising=False)
