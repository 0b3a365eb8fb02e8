"""Aliases and promotion: a bare judge name means its champion; a worse version is never promoted unasked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.errors import NotFoundError, PromotionRefused
from accord.judges import make_judge
from accord.store import get_store
from tests.align.helpers import RULES, labelled_traces, play, says_no_when_promised

runner = CliRunner()
SPEC = (
    "name: policy\ninstructions: Does {{ outputs }} follow the policy for {{ inputs }}?\n"
    "model: 'fake:'\nfeedback_value_type: Literal['yes', 'no']\n"
)


def _setup(tmp_path: Path) -> None:
    play(RULES, verdict=says_no_when_promised)
    exp = get_store().get_or_create_experiment("support")
    get_store().insert_traces(labelled_traces(30), exp.experiment_id)
    spec = tmp_path / "policy.yaml"
    spec.write_text(SPEC)
    assert runner.invoke(app, ["judges", "create", str(spec), "-e", "support"]).exit_code == 0


def test_a_bare_name_means_the_champion_and_aliases_name_versions() -> None:
    judge = make_judge("quality", "Is {{ outputs }} good?", model="fake:")
    assert judge.register() == 1 and accord.get_aliases("quality") == {"champion": 1}
    other = make_judge("quality", "Is {{ outputs }} really good?", model="fake:")
    assert other.register() == 2
    assert accord.get_judge("quality").version == 1  # registering a version changes nothing in use
    accord.set_alias("quality", "candidate", 2)
    assert accord.get_judge("quality", "candidate").version == 2
    assert accord.registry.resolve_judge("quality@candidate").version == 2
    assert accord.registry.resolve_judge("quality@2").version == 2
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        accord.get_judge("quality", "staging")
    with pytest.raises(accord.AccordError, match="an alias starts with a letter"):
        accord.set_alias("quality", "2x", 2)
    assert accord.promote("quality", 2, force=True)["promoted"]
    assert accord.get_judge("quality").version == 2
    accord.delete_judge("quality", 2)
    assert "champion" not in accord.get_aliases("quality")
    assert accord.get_judge("quality").version == 1  # no champion: the newest


def test_align_registers_a_candidate_and_promotes_only_when_asked(tmp_path: Path) -> None:
    _setup(tmp_path)
    result = runner.invoke(app, ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash"])
    assert result.exit_code == 0, result.output
    assert "registered policy version 2 (a candidate; the champion is version 1)" in result.output
    assert "accord judges promote policy@2 -e support" in result.output
    assert accord.get_judge("policy").version == 1
    promoted = runner.invoke(
        app, ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash", "--promote", "--json"]
    )
    assert promoted.exit_code == 0, promoted.output
    report = json.loads(promoted.stdout)
    assert report["promotion"]["promoted"] is True and accord.get_judge("policy").version == 3
    versions = json.loads(runner.invoke(app, ["judges", "versions", "policy", "--json"]).stdout)
    assert [v["aliases"] for v in versions] == [[], [], ["champion"]]


def test_promoting_a_version_that_agrees_less_is_refused_with_both_figures_unless_forced(tmp_path: Path) -> None:
    _setup(tmp_path)
    runner.invoke(app, ["align", "-j", "policy", "-e", "support", "--embedding-model", "hash", "--promote"])
    assert accord.get_judge("policy").version == 2  # the aligned judge agrees more: promoted
    worse = tmp_path / "worse.yaml"
    worse.write_text(SPEC.replace("follow the policy", "look fine"))
    judge = accord.judges.judge_from_file(worse)
    assert (
        accord.registry.register_judge(judge, experiment_id=get_store().resolve_experiment("support").experiment_id)
        == 3
    )
    refused = runner.invoke(app, ["judges", "promote", "policy@3"])
    assert refused.exit_code == 4
    assert "agrees less with the experts than policy@champion (version 2)" in refused.output
    assert "Cohen's kappa" in refused.output and accord.get_judge("policy").version == 2
    with pytest.raises(PromotionRefused) as caught:
        accord.promote("policy", 3)
    assert caught.value.figures["candidate_kappa"] < caught.value.figures["champion_kappa"]
    forced = runner.invoke(app, ["judges", "promote", "policy@3", "--force"])
    assert forced.exit_code == 0 and accord.get_judge("policy").version == 3
