"""`accord evaluate` (agreement with the humans) and `accord align` (a new, registered judge version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperCommand

from accord.agreement import AgreementReport, evaluate_agreement
from accord.align.base import load_optimizer
from accord.cli.common import confusion_table, console, handle_errors, print_json, selection_lines
from accord.evaluation import resolve_traces
from accord.metrics import Agreement
from accord.registry import register_judge, resolve_judge
from accord.store import get_store

JSON_OUT = typer.Option(None, "--json", help="Write JSON to stdout (--json) or to a file (--json OUT).")


class JsonOutCommand(TyperCommand):
    """Lets `--json` stand alone (JSON to stdout) or take a file name (`--json OUT`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        fixed: list[str] = []
        for i, arg in enumerate(args):
            fixed.append(arg)
            if arg == "--json" and (i + 1 == len(args) or args[i + 1].startswith("-")):
                fixed.append("-")
        return super().parse_args(ctx, fixed)


def emit_json(data: Any, target: str) -> None:
    if target == "-":
        print_json(data)
    else:
        import json

        Path(target).write_text(json.dumps(data, indent=2, default=str) + "\n")
        console.print(f"wrote {target}", soft_wrap=True)


def show_agreement(title: str, agreement: Agreement) -> None:
    console.print(
        f"[bold]{title}[/]: n={agreement.n}  accuracy={agreement.accuracy:.3f}  "
        f"kappa={agreement.kappa_text(3)} (95% CI in brackets)"
        + (f"  unparseable={agreement.extra['unparseable']}" if agreement.extra.get("unparseable") else "")
        + (
            f"  orders disagreed on {agreement.extra['order_disagreement_rate']:.0%} of pairs"
            if "order_disagreement_rate" in agreement.extra
            else ""
        )
        + (
            f"  labels left out (not a verdict of this judge)={agreement.extra['invalid_labels']}"
            if agreement.extra.get("invalid_labels")
            else ""
        )
    )
    console.print(confusion_table(agreement.labels, agreement.confusion))


@handle_errors
def evaluate_command(
    judge: str = typer.Option(..., "--judge", "-j", help="NAME or NAME@VERSION (newest when no version)."),
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="Judgments in flight at once."),
    json_out: str | None = JSON_OUT,
) -> None:
    """Run the judge where this version has no verdict yet and report its agreement with the HUMAN feedback
    of the judge's name: accuracy, Cohen's kappa with a 95% interval, confusion matrix."""
    found = resolve_judge(judge)
    report: AgreementReport = evaluate_agreement(
        found, experiment, concurrency=concurrency, show_progress=json_out != "-"
    )
    if json_out:
        emit_json(report.to_dict(), json_out)
        if json_out == "-":
            return
    show_agreement(f"{report.judge} vs humans", report.agreement)
    if report.disagreements:
        console.print(f"{len(report.disagreements)} disagreements; first ones:")
        for row in report.disagreements[:5]:
            console.print(f"  {row['trace_id']}: human {row['human']!r}, judge {row['judge']!r}", markup=False)


@handle_errors
def align_command(
    judge: str = typer.Option(..., "--judge", "-j", help="NAME or NAME@VERSION of the judge to align."),
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment whose HUMAN feedback to learn from."),
    optimizer: str = typer.Option("memalign", "--optimizer", help="memalign, simba, gepa or package.module:ClassName."),
    validation: float = typer.Option(0.2, "--validation", help="Fraction held out to measure before/after (0: none)."),
    register: str | None = typer.Option(None, "--register", help="Register under this name (default: the judge's)."),
    reflection_model: str | None = typer.Option(None, "--reflection-model", help="MemAlign: model that distills."),
    embedding_model: str | None = typer.Option(None, "--embedding-model", help="MemAlign: minilm, hash or litellm."),
    retrieval_k: int | None = typer.Option(None, "--retrieval-k", help="MemAlign: examples shown per verdict."),
    calibrate: bool = typer.Option(
        False,
        "--calibrate",
        help="MemAlign, two-verdict judges on local models: the prompt judge with a fitted decision threshold.",
    ),
    candidates: str | None = typer.Option(
        None,
        "--candidates",
        help="MemAlign: comma-separated judges to cross-validate, the best kept (default: "
        "base,calibrated,checks,memory,checks+memory; add prompt, or give only prompt for MemAlign's prompt judge).",
    ),
    max_checks: int | None = typer.Option(None, "--max-checks", help="MemAlign: at most this many checks."),
    grounding: bool = typer.Option(
        True,
        "--grounding/--no-grounding",
        help="MemAlign: let the fitted decision weigh how much of the output is found in the inputs (word "
        "overlap, no model call; kept only where it separates the experts' labels).",
    ),
    policy: Path | None = typer.Option(
        None,
        "--policy",
        help="MemAlign: a written policy or rubric (a text file); each numbered rule becomes a check the "
        "aligned judge may weigh, before any feedback.",
    ),
    json_out: str | None = JSON_OUT,
) -> None:
    """Align a judge with the experiment's HUMAN feedback, register the result as a new version, and print
    agreement before and after on a held-out split."""
    base = resolve_judge(judge)
    options = {
        "reflection_model": reflection_model,
        "embedding_model": embedding_model,
        "retrieval_k": retrieval_k,
        "calibrate": calibrate or None,
        "candidates": [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None,
        "max_checks": max_checks,
        "grounding": None if grounding else False,
        "policy": policy,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if optimizer.lower() != "memalign" and options:
        raise ValueError(
            "--reflection-model, --embedding-model, --retrieval-k, --calibrate, --candidates, --max-checks, "
            "--no-grounding and --policy apply to memalign only"
        )
    chosen = load_optimizer(optimizer, **options)
    exp = get_store().resolve_experiment(experiment)
    traces = resolve_traces(exp)
    aligned = base.align(traces, chosen, validation=validation or None)
    version = register_judge(aligned, name=register, experiment_id=exp.experiment_id, tags={"optimizer": optimizer})
    report = getattr(aligned, "alignment_report", None)
    result: dict[str, Any] = {"name": aligned.registered_name, "version": version, "optimizer": optimizer}
    if report:
        result.update(report)
    if hasattr(aligned, "guidelines"):
        result["guidelines"] = aligned.guidelines
    if getattr(aligned, "decision", None) is not None:
        result["decision"] = aligned.decision.to_dict()
    if getattr(aligned, "selection", None):
        result["selection"] = aligned.selection
        result["mode"] = aligned.mode
        result["checks"] = [c.question for c in aligned.checks]
        if aligned.fitted is not None:
            result["weights"] = aligned.fitted.weights(result["checks"])
    if json_out:
        emit_json(result, json_out)
        if json_out == "-":
            return
    console.print(f"registered [bold]{aligned.registered_name}[/] version {version}")
    if report and report.get("held_out"):
        console.print(f"held out {report['held_out']} of {report['train'] + report['held_out']} labelled traces")
        show_agreement("before", _agreement(report["before"]))
        show_agreement("after", _agreement(report["after"]))
        console.print(f"kappa gain: {report['kappa_gain']:+.3f}")
    if rule := result.get("decision"):
        console.print(
            f"decision: {rule['value']!r} when its probability is at least {rule['threshold']:.3f} "
            f"(the experts' rate {rule['rate']:.0%}, fitted on {rule['fitted_on']} traces)",
            markup=False,
        )
    for i, text in enumerate(result.get("guidelines", []), start=1):
        console.print(f"  {i}. {text}", markup=False)
    for line in selection_lines(aligned):
        console.print(line, markup=False, highlight=False)


def _agreement(data: dict[str, Any]) -> Agreement:
    return Agreement(
        n=data["n"],
        accuracy=data["accuracy"],
        cohen_kappa=data["cohen_kappa"],
        kappa_ci=tuple(data["kappa_ci"]),
        labels=data["labels"],
        confusion=data["confusion"],
        extra={"unparseable": data.get("unparseable", 0)},
    )
