"""Agreement figures leave out the traces a judge version learned from, and `accord evaluate` gates a release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

import accord
from accord.align import MemAlignOptimizer
from accord.cli import app
from accord.errors import AccordError
from accord.judges import make_judge
from accord.monitoring import rolling_figures
from accord.store import get_store
from tests.align.helpers import RULES, labelled_traces, play, says_no_when_promised

runner = CliRunner()


def _aligned(n_train: int = 20):
    play(RULES, verdict=says_no_when_promised)
    judge = make_judge(
        "policy",
        "Does {{ outputs }} follow the policy for {{ inputs }}?",
        model="fake:",
        feedback_value_type=Literal["yes", "no"],
    )
    traces = labelled_traces(30)
    optimizer = MemAlignOptimizer(embedding_model="hash", show_progress=False, candidates=["prompt"])
    return judge, judge.align(traces[:n_train], optimizer), traces


def test_evaluate_agreement_leaves_out_what_the_version_learned_and_says_how_many() -> None:
    judge, aligned, traces = _aligned()
    assert len(aligned.learned_from) == 20 and judge.learned_from == frozenset()
    held = accord.evaluate_agreement(aligned, traces, log_verdicts=False, show_progress=False)
    assert held.agreement.n == 10 and held.agreement.extra["learned_left_out"] == 20
    assert held.agreement.extra["include_learned"] is False
    everything = accord.evaluate_agreement(
        aligned, traces, log_verdicts=False, show_progress=False, include_learned=True
    )
    assert everything.agreement.n == 30 and everything.agreement.extra["include_learned"] is True
    assert accord.evaluate_agreement(judge, traces, log_verdicts=False, show_progress=False).agreement.n == 30
    with pytest.raises(AccordError, match="all 20 labelled traces were learned from"):
        accord.evaluate_agreement(aligned, traces[:20], log_verdicts=False, show_progress=False)


def test_versions_compared_side_by_side_are_scored_on_the_same_unseen_traces() -> None:
    judge, aligned, traces = _aligned()
    comparison = accord.compare(judge, aligned, traces, log_verdicts=False, show_progress=False)
    assert comparison.before.agreement.n == comparison.after.agreement.n == 10
    assert comparison.before.agreement.extra["learned_left_out"] == 20


def test_monitor_figures_leave_out_learned_traces() -> None:
    judge, aligned, traces = _aligned()
    result = accord.evaluate(traces, [aligned], show_progress=False)
    assert result.all_verdicts()
    judged = []
    for trace in traces:
        trace.assessments.extend(v for v in result.all_verdicts() if v.trace_id == trace.trace_id)
        judged.append(trace)
    figures = rolling_figures(aligned, judged)
    assert figures["labelled"] == 10 and figures["learned_left_out"] == 20
    assert rolling_figures(aligned, judged, include_learned=True)["labelled"] == 30


def _registered(tmp_path: Path) -> None:
    from tests.cli.test_cli_alignment import _setup

    _setup(tmp_path)


def test_evaluate_gates_a_release_on_kappa_and_accuracy(tmp_path: Path) -> None:
    _registered(tmp_path)  # the base judge answers "yes" to everything: accuracy 0.5, kappa 0
    below = runner.invoke(app, ["evaluate", "-j", "policy", "-e", "support", "--min-kappa", "0.4"])
    assert below.exit_code == 4, below.output
    assert "Cohen's kappa 0.000 [95% CI" in below.output and "below --min-kappa 0.4" in below.output
    accuracy = runner.invoke(app, ["evaluate", "-j", "policy", "-e", "support", "--min-accuracy", "0.9"])
    assert accuracy.exit_code == 4 and "accuracy 0.500 [95% CI 0.3" in accuracy.output
    passed = runner.invoke(app, ["evaluate", "-j", "policy", "-e", "support", "--min-accuracy", "0.4"])
    assert passed.exit_code == 0 and "gate passed" in passed.output
    as_json = runner.invoke(app, ["evaluate", "-j", "policy", "-e", "support", "--min-kappa", "0.4", "--json"])
    assert as_json.exit_code == 4
    report = json.loads(as_json.stdout)
    assert report["gate"]["passed"] is False and "below --min-kappa 0.4" in report["gate"]["failures"][0]


def test_evaluate_of_an_aligned_version_says_what_it_left_out(tmp_path: Path) -> None:
    _registered(tmp_path)
    result = runner.invoke(app, ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash"])
    assert result.exit_code == 0, result.output
    text = runner.invoke(app, ["evaluate", "-j", "policy@2", "-e", "support"]).output
    assert "left out 24 traces it learned from" in text and "n=6" in text
    everything = runner.invoke(app, ["evaluate", "-j", "policy@2", "-e", "support", "--include-learned", "--json"])
    report = json.loads(everything.stdout)
    assert report["n"] == 30 and report["include_learned"] is True


def test_the_review_page_figures_say_how_many_learned_traces_they_left_out() -> None:
    from accord.review.dashboard import build_dashboard

    judge, aligned, traces = _aligned()
    experiment = accord.set_experiment("dash")
    get_store().insert_traces(traces, experiment.experiment_id)
    judge.register(experiment_id=experiment.experiment_id)
    aligned.register(experiment_id=experiment.experiment_id)
    accord.evaluate(traces, [judge, aligned], show_progress=False)
    board = build_dashboard(experiment.experiment_id, "dash", judge)
    rows = {v.version: v.to_dict() for v in board.versions}
    assert rows[2]["learned_left_out"] == 20 and rows[2]["agreement"]["n"] == 10
    assert rows[1]["learned_left_out"] == 0 and rows[1]["agreement"]["n"] == 30
