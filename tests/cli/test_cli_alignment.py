import json
import re
from pathlib import Path

from typer.testing import CliRunner

from accord.cli import app
from accord.store import get_store
from tests.align.helpers import RULES, labelled_traces, leaning_model, play, says_no_when_promised

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _setup(tmp_path: Path, model: str = "fake:") -> None:
    play(RULES, verdict=says_no_when_promised)
    exp = get_store().get_or_create_experiment("support")
    get_store().insert_traces(labelled_traces(30), exp.experiment_id)
    spec = tmp_path / "policy.yaml"
    spec.write_text(
        "name: policy\ninstructions: Does {{ outputs }} follow the policy for {{ inputs }}?\n"
        f"model: '{model}'\nfeedback_value_type: Literal['yes', 'no']\n"
    )
    assert json.loads(run("judges", "create", str(spec), "--json"))["version"] == 1


def test_evaluate_reports_agreement_as_json_to_stdout_and_file(tmp_path: Path) -> None:
    _setup(tmp_path)
    report = json.loads(run("evaluate", "--judge", "policy", "--experiment", "support", "--json"))
    assert {"n", "accuracy", "cohen_kappa", "kappa_ci", "confusion"} <= set(report)
    assert report["n"] == 30 and report["accuracy"] == 0.5 and report["judge"] == "policy@1"
    out = tmp_path / "agreement.json"
    text = run("evaluate", "--judge", "policy@1", "--experiment", "support", "--json", str(out))
    assert f"wrote {out}" in text and json.loads(out.read_text())["n"] == 30
    assert "kappa=" in run("evaluate", "-j", "policy", "-e", "support")


def test_align_registers_a_new_version_and_prints_before_and_after(tmp_path: Path) -> None:
    _setup(tmp_path)
    text = run("align", "--judge", "policy", "--experiment", "support", "--embedding-model", "hash")
    assert "registered policy version 2" in text
    assert "before" in text and "after" in text and "kappa gain" in text
    versions = json.loads(run("judges", "versions", "policy", "--json"))
    assert [(v["version"], v["kind"]) for v in versions] == [(1, "instructions"), (2, "memalign")]
    learned = json.loads(run("judges", "guidelines", "policy@2", "--json"))
    assert learned["mode"] in ("fitted", "base") and learned["selection"]["candidates"]
    guidelines = learned["guidelines"]
    assert {g["text"] for g in guidelines} == set(RULES.values()) and {g["verdict"] for g in guidelines} == {
        "yes",
        "no",
    }
    result = json.loads(
        run(
            "align",
            "-j",
            "policy@1",
            "-e",
            "support",
            "--embedding-model",
            "hash",
            "--register",
            "policy_aligned",
            "--json",
        )
    )
    assert result["name"] == "policy_aligned" and result["version"] == 1
    assert result["after"]["accuracy"] == 1.0 and result["kappa_gain"] > 0
    # verdicts are stored per judge version: the aligned one is compared on the same traces
    assert json.loads(run("evaluate", "-j", "policy_aligned", "-e", "support", "--json"))["accuracy"] == 1.0


def test_align_calibrate_fits_a_decision_rule_and_prints_it(tmp_path: Path) -> None:
    _setup(tmp_path, model="fake:/leaning")
    leaning_model("leaning")  # always writes "yes"; its probability of "no" is higher on promises
    args = ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash", "--calibrate"]
    result = json.loads(run(*args, "--json"))
    assert result["decision"]["fitted_on"] == 24 and result["decision"]["rate"] == 0.5
    assert result["before"]["accuracy"] == 0.5 and result["after"]["accuracy"] == 1.0
    assert "decision: 'yes' when its probability is at least 0.800" in run(*args)
    assert runner.invoke(
        app, ["align", "-j", "policy", "-e", "support", "--optimizer", "simba", "--calibrate"]
    ).exit_code


def test_align_with_a_custom_optimizer_from_the_command_line(tmp_path: Path) -> None:
    _setup(tmp_path)
    result = json.loads(
        run(
            "align",
            "-j",
            "policy",
            "-e",
            "support",
            "--optimizer",
            "tests.align.custom_optimizer:AppendRules",
            "--validation",
            "0",
            "--json",
        )
    )
    assert result["version"] == 2
    assert "Experts' reasons:" in json.loads(run("judges", "show", "policy@2", "--json"))["instructions"]
    assert "Experts' reasons:" not in json.loads(run("judges", "show", "policy", "--json"))["instructions"]


def test_align_errors_are_clear(tmp_path: Path) -> None:
    _setup(tmp_path)
    result = runner.invoke(app, ["align", "-j", "safety", "-e", "support", "--embedding-model", "hash"])
    assert result.exit_code == 1 and "no HUMAN feedback named 'safety'" in result.output
    result = runner.invoke(app, ["align", "-j", "policy", "-e", "support", "--optimizer", "nope"])
    assert result.exit_code == 1 and "unknown optimizer" in result.output


def test_align_shows_the_candidates_and_checks_can_be_edited_as_a_new_version(tmp_path: Path) -> None:
    from tests.align.test_checks import checking_model

    _setup(tmp_path, model="fake:/checks")
    checking_model("checks")
    text = run("align", "-j", "policy", "-e", "support", "--embedding-model", "hash", "--validation", "0")
    assert "candidates, Cohen's kappa cross-validated on 30 training traces" in text
    assert re.search(r"chosen: (shrunk|checks)", text) and "decision (" in text and "Is this true of the case" in text
    shown = run("judges", "guidelines", "policy@2")
    assert "mode: fitted" in shown and "check 1. Is this true of the case" in shown
    learned = json.loads(run("judges", "guidelines", "policy@2", "--json"))
    questions = [c["question"] for c in learned["checks"]]
    assert learned["weights"] and learned["decision"]["check_questions"] == questions
    edited = tmp_path / "checks.txt"
    edited.write_text("\n".join([questions[0] + " Or a discount?", *questions[1:]]) + "\n")
    result = json.loads(run("judges", "edit-checks", "policy@2", str(edited), "--json"))
    assert result["version"] == 3 and result["stale_decision"] is True
    assert "STALE" in run("judges", "guidelines", "policy@3")
    only = run("align", "-j", "policy@1", "-e", "support", "--embedding-model", "hash", "--candidates", "prompt")
    assert "chosen: prompt" not in only and "registered policy version 4" in only
