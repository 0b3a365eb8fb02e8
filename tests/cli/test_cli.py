import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import app
from tests.conftest import trace_row, write_jsonl

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_help_lists_every_command() -> None:
    text = run("--help")
    for command in ("demo", "traces", "feedback", "judge", "judges"):
        assert command in text
    assert "import" in run("traces", "--help") and "show" in run("traces", "--help")
    assert "create" in run("judges", "--help")


def test_help_names_what_to_type_not_python_types() -> None:
    """As the `accord` command prints it (typer alone shows `<bool>` on flags and `<str>` on values)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "160"}
    for command in (["evaluate"], ["judges", "create"], ["feedback", "list"], ["judges", "run"]):
        shown = subprocess.run(
            [sys.executable, "-m", "accord", *command, "--help"], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert not any(f"<{t}>" in shown for t in ("bool", "str", "int", "float", "path", "list[str]")), shown
        assert "TEXT" in shown or "PATH" in shown, shown
    evaluate = subprocess.run(
        [sys.executable, "-m", "accord", "evaluate", "--help"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "--min-kappa" in evaluate and "NUMBER" in evaluate and "INTEGER" in evaluate


def test_import_list_show_and_feedback_as_json(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(3)])
    assert json.loads(run("traces", "import", str(path), "--experiment", "cli", "--json"))["imported"] == 3
    listed = json.loads(run("traces", "list", "--experiment", "cli", "--json"))
    assert [t["trace_id"] for t in listed] == ["t-2", "t-1", "t-0"]
    assert len(json.loads(run("traces", "list", "-e", "cli", "--tag", "topic=a", "--json"))) == 1
    shown = json.loads(run("traces", "show", "t-1", "--json"))
    assert shown["outputs"] == "answer 1" and shown["assessments"][0]["value"] == "yes"
    assert "t-1" in run("traces", "show", "t-1")
    fb = write_jsonl(tmp_path / "f.jsonl", [{"trace_id": "t-0", "name": "tone", "value": "warm"}])
    assert json.loads(run("feedback", "import", str(fb), "--json"))["assessments"] == 1
    listed = json.loads(run("feedback", "list", "-e", "cli", "--name", "tone", "--json"))
    assert [(f["trace_id"], f["value"]) for f in listed] == [("t-0", "warm")]


def test_bad_file_gives_a_clear_error_and_exit_code(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [trace_row(1), "{oops"])
    result = runner.invoke(app, ["traces", "import", str(path), "-e", "x"])
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output and "not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_judges_create_list_show_and_run(tmp_path: Path) -> None:
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: product_quality\n"
        "instructions: Is {{ outputs }} accurate for {{ inputs }}? Rate as excellent, good, fair or poor.\n"
        "model: 'fake:'\n"
        "feedback_value_type: Literal['excellent', 'good', 'fair', 'poor']\n"
    )
    assert json.loads(run("judges", "create", str(spec), "--json")) == {
        "name": "product_quality",
        "version": 1,
        "aliases": ["champion"],  # a spec you write is what a bare name means
    }
    assert json.loads(run("judges", "create", str(spec), "--json"))["version"] == 2
    listing = json.loads(run("judges", "list", "--json"))
    assert [(j["name"], j["version"]) for j in listing["registered"]] == [("product_quality", 2)]
    assert any(b["name"] == "relevance_to_query" for b in listing["builtin"])
    shown = json.loads(run("judges", "show", "product_quality@1", "--json"))
    assert shown["version"] == 1 and shown["feedback_value_type"]["categories"][0] == "excellent"
    path = write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(4)])
    run("traces", "import", str(path), "-e", "runs")
    assert json.loads(run("judges", "run", "--judge", "product_quality", "-e", "runs", "--json")) == {
        "new": 4,
        "reused": 0,
        "errors": 0,
    }
    assert json.loads(run("judges", "run", "-j", "product_quality", "-j", "safety", "-e", "runs", "--json"))["new"] == 4
    verdicts = json.loads(run("feedback", "list", "-e", "runs", "--source-type", "LLM_JUDGE", "--json"))
    assert {v["metadata"]["judge_key"] for v in verdicts} == {
        "product_quality@2",
        "safety#" + verdicts[-1]["metadata"]["judge_key"].split("#")[-1],
    }


def test_unknown_judge_and_bad_spec_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judges", "show", "nope"])
    assert result.exit_code == 1 and "no judge 'nope'" in result.output
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ninstructions: Is {{ answer }} ok?\n")
    result = runner.invoke(app, ["judges", "create", str(spec)])
    assert result.exit_code == 1 and "unknown template variable {{ answer }}" in result.output


@pytest.mark.parametrize("size", [10])
def test_demo_runs_end_to_end_on_the_fake_model(size: int, tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    text = run("demo", "--test-size", str(size), "--json", str(out))
    assert "imported 100 support traces" in text
    assert "Cohen's kappa" in text and "n=10" in text
    assert "registered policy_compliant@2" in text and "guidelines distilled" in text
    assert "candidates, Cohen's kappa cross-validated on 90 training traces" in text and "chosen: " in text
    assert "unparseable verdicts: 0 before, 0 after" in text
    figures = json.loads(out.read_text())
    for side in ("before", "after"):
        assert {"n", "accuracy", "cohen_kappa", "kappa_ci"} <= set(figures[side]) and figures[side]["n"] == size
    assert figures["chosen"] in ("base", "calibrated", "checks", "memory", "checks+memory", "prompt")
    assert figures["align_seconds"] >= 0


def test_builtin_judges_with_parameters_come_from_spec_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judges", "show", "guidelines"])
    assert result.exit_code == 1 and "needs parameters" in result.output
    spec = tmp_path / "g.yaml"
    spec.write_text("builtin: Guidelines\nname: tone\nparams:\n  guidelines: [Be polite, Never promise refunds]\n")
    assert json.loads(run("judges", "create", str(spec), "--json")) == {
        "name": "tone",
        "version": 1,
        "aliases": ["champion"],
    }
    shown = json.loads(run("judges", "show", "tone", "--json"))
    assert shown["class"] == "Guidelines" and shown["params"]["guidelines"][1] == "Never promise refunds"


def test_version_and_python_dash_m_accord() -> None:
    import subprocess
    import sys

    import accord

    assert run("--version").strip() == f"accord {accord.__version__}"
    found = subprocess.run([sys.executable, "-m", "accord", "--version"], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0 and found.stdout.strip() == f"accord {accord.__version__}"


def test_wrong_values_are_refused_with_the_choices(tmp_path: Path) -> None:
    import socket

    from accord.store import get_store

    get_store().get_or_create_experiment("cli")
    listed = runner.invoke(app, ["feedback", "list", "-e", "cli", "--source-type", "HUMANS"])
    assert listed.exit_code == 1 and "must be HUMAN, LLM_JUDGE or CODE, not 'HUMANS'" in listed.output
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: tone\ninstructions: Is {{ outputs }} warm?\nmodel: 'fake:'\nfeedback_value_type: Literal['yes', 'no']\n"
    )
    run("judges", "create", str(spec))
    typo = runner.invoke(app, ["monitor", "-e", "cli", "-j", "tone", "--alert", "kapa<0.4", "--cycles", "1"])
    assert typo.exit_code == 1 and "cannot alert on 'kapa'" in typo.output and "kappa" in typo.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        review = runner.invoke(app, ["review", "-e", "cli", "--port", str(port)])
    assert review.exit_code == 1 and "cannot listen on 127.0.0.1" in review.output and "http://" not in review.output


def test_experiments_are_listed_and_deleted_keeping_expert_labels_unless_asked(tmp_path: Path) -> None:
    import accord
    from accord.store import get_store

    rows = [{k: v for k, v in trace_row(i).items() if k != "assessments"} for i in range(3)]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    run("traces", "import", str(path), "-e", "scratch")
    run("traces", "import", str(path), "-e", "golden", "--on-conflict", "new-ids")
    listed = json.loads(run("experiments", "list", "--json"))
    assert {(e["name"], e["traces"]) for e in listed} >= {("scratch", 3), ("golden", 3)}
    assert {e.name for e in accord.search_experiments()} >= {"scratch", "golden"}
    golden = accord.search_traces(experiment_names=["golden"], return_type="list")
    accord.log_feedback(
        trace_id=golden[0].trace_id,
        name="ok",
        value="yes",
        source=accord.AssessmentSource(source_type="HUMAN", source_id="ann"),
    )
    refused = runner.invoke(app, ["experiments", "delete", "golden", "--yes"])
    assert refused.exit_code == 1 and "holds expert labels" in refused.output
    assert "deleted experiment scratch and its 3 traces" in run("experiments", "delete", "scratch", "--yes")
    assert get_store().get_experiment_by_name("scratch") is None
    assert "its 3 traces" in run("experiments", "delete", "golden", "--yes", "--discard-labels")


def test_old_spellings_still_work_for_a_release_and_say_where_their_command_moved(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [trace_row(i) for i in range(3)])
    run("traces", "import", str(path), "-e", "moved")
    old = runner.invoke(app, ["judge", "run", "-j", "safety", "-e", "moved", "--json"])
    assert old.exit_code == 0, old.output
    assert "this command is now `accord judges run`" in old.stderr and json.loads(old.stdout)["new"] == 3
    otlp = runner.invoke(app, ["serve-otlp", "-e", "moved", "--host", "0.0.0.0"])
    assert "now `accord traces serve-otlp`" in otlp.stderr and "token" in otlp.output  # still runs: refused, no token
    run("traces", "import", str(write_jsonl(tmp_path / "l.jsonl", [trace_row(i) for i in range(3, 6)])), "-e", "moved")
    spec = tmp_path / "quality.yaml"  # a judge named as the experts' labels
    spec.write_text(
        "name: quality\ninstructions: 'Is {{ outputs }} good?'\nmodel: 'fake:'\nfeedback_value_type: bool\n"
    )
    written = tmp_path / "agreement.json"
    legacy = runner.invoke(app, ["evaluate", "-j", str(spec), "-e", "moved", "--json", str(written)])
    assert legacy.exit_code == 0, legacy.output
    assert "`--json-out" in legacy.stderr and json.loads(written.read_text())["n"] >= 1
    top = run("--help")
    assert "judges" in top and "serve-otlp" not in top and "export-mlflow" not in top  # new homes only
    assert "serve-otlp" in run("traces", "--help") and "export-mlflow" in run("feedback", "--help")
    assert "run" in run("judges", "--help")
