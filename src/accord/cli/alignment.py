"""`accord evaluate` (agreement with the humans) and `accord align` (a new, registered judge version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord.agreement import AgreementReport, evaluate_agreement
from accord.align import align, load_optimizer
from accord.cli.common import (
    JSON_FILE,
    JSON_OPTION,
    agreement_summary,
    confusion_table,
    console,
    err_console,
    fail,
    handle_errors,
    print_json,
    selection_lines,
)
from accord.evaluation import resolve_traces
from accord.metrics import Agreement
from accord.registry import get_aliases, register_judge, resolve_judge
from accord.store import get_store


def emit_json(data: Any, as_json: bool, json_file: str | None) -> None:
    """JSON to the file named by --json-out, and to stdout with --json."""
    if json_file:
        import json

        Path(json_file).write_text(json.dumps(data, indent=2, default=str) + "\n")
        if not as_json:
            console.print(f"wrote {json_file}", soft_wrap=True)
    if as_json:
        print_json(data)


def show_agreement(title: str, agreement: Agreement) -> None:
    console.print(agreement_summary(title, agreement))
    console.print(confusion_table(agreement.labels, agreement.confusion))


@handle_errors
def evaluate_command(
    judge: str = typer.Option(..., "--judge", "-j", help="NAME (its champion), NAME@VERSION or NAME@ALIAS."),
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="Judgments in flight at once."),
    include_learned: bool = typer.Option(
        False,
        "--include-learned",
        help="Also count the traces this version learned from (left out by default: they flatter it).",
    ),
    min_kappa: float | None = typer.Option(
        None, "--min-kappa", help="Exit with code 4 when Cohen's kappa (weighted for scales) is below this."
    ),
    min_accuracy: float | None = typer.Option(
        None, "--min-accuracy", help="Exit with code 4 when accuracy is below this."
    ),
    as_json: bool = JSON_OPTION,
    json_file: str | None = JSON_FILE,
) -> None:
    """Run the judge where this version has no verdict yet and report its agreement with the HUMAN feedback
    of the judge's name: accuracy, Cohen's kappa with a 95% interval, confusion matrix. Traces the version
    learned from are left out (and counted) unless --include-learned. With --min-kappa / --min-accuracy it
    gates a release: exit code 4, naming the figure and its interval, when the judge falls below."""
    found = resolve_judge(judge)
    report: AgreementReport = evaluate_agreement(
        found, experiment, concurrency=concurrency, show_progress=not as_json, include_learned=include_learned
    )
    failures = gate_failures(report.agreement, min_kappa, min_accuracy)
    emit_json({**report.to_dict(), "gate": {"passed": not failures, "failures": failures}}, as_json, json_file)
    if as_json:
        if failures:
            raise typer.Exit(GATE_EXIT)
        return
    show_agreement(f"{report.judge} vs humans", report.agreement)
    if report.disagreements:
        console.print(f"{len(report.disagreements)} disagreements; first ones:")
        for row in report.disagreements[:5]:
            console.print(f"  {row['trace_id']}: human {row['human']!r}, judge {row['judge']!r}", markup=False)
    if failures:
        for failure in failures:
            err_console.print(f"[bold red]below the gate:[/] {failure}", highlight=False, soft_wrap=True)
        raise typer.Exit(GATE_EXIT)
    if min_kappa is not None or min_accuracy is not None:
        console.print("gate passed", highlight=False)


GATE_EXIT = 4  # the figures are below what --min-kappa / --min-accuracy asked (1: an error, 2: bad usage)


def gate_failures(agreement: Agreement, min_kappa: float | None, min_accuracy: float | None) -> list[str]:
    """What falls short of the gate, each with its figure and 95% interval."""
    failures = []
    ordinal = "weighted_kappa" in agreement.extra
    kappa = agreement.extra["weighted_kappa"] if ordinal else agreement.cohen_kappa
    interval = agreement.extra.get("weighted_kappa_ci") if ordinal else agreement.kappa_ci
    name = "weighted kappa" if ordinal else "Cohen's kappa"
    if min_kappa is not None:
        if kappa is None or kappa != kappa:  # NaN: undefined
            failures.append(f"{name} is undefined on {agreement.n} traces; --min-kappa {min_kappa} cannot be met")
        elif kappa < min_kappa:
            low, high = interval or (float("nan"), float("nan"))
            failures.append(
                f"{name} {kappa:.3f} [95% CI {low:.3f}, {high:.3f}] on {agreement.n} traces is below --min-kappa "
                f"{min_kappa}"
            )
    if min_accuracy is not None and agreement.accuracy < min_accuracy:
        low, high = agreement.extra.get("accuracy_ci") or _accuracy_interval(agreement)
        failures.append(
            f"accuracy {agreement.accuracy:.3f} [95% CI {low:.3f}, {high:.3f}] on {agreement.n} traces is below "
            f"--min-accuracy {min_accuracy}"
        )
    return failures


def _accuracy_interval(agreement: Agreement) -> tuple[float, float]:
    """Wilson's interval for a proportion."""
    from scipy.stats import binomtest

    hits = round(agreement.accuracy * agreement.n)
    found = binomtest(hits, max(agreement.n, 1)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(found.low), float(found.high)


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
    target_agreement: float | None = typer.Option(
        None,
        "--target-agreement",
        help="MemAlign: the aligned judge abstains where it cannot keep this agreement with the experts (e.g. "
        "0.85), chosen on the cross-validation's out-of-fold predictions; abstentions go to expert review.",
    ),
    risk: float = typer.Option(0.1, "--risk", help="With --target-agreement: the chance the guarantee fails."),
    promote: bool = typer.Option(
        False,
        "--promote",
        help="Make the new version the champion (what a bare judge name means) unless it agrees less with the "
        "experts on held-out traces than the champion (then exit code 4).",
    ),
    force: bool = typer.Option(False, "--force", help="With --promote: promote even when it agrees less."),
    as_json: bool = JSON_OPTION,
    json_file: str | None = JSON_FILE,
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
    outcome = align(base, traces, chosen, validation=validation or None, target_agreement=target_agreement, risk=risk)
    aligned = outcome.judge
    version = register_judge(aligned, name=register, experiment_id=exp.experiment_id, tags={"optimizer": optimizer})
    report = outcome.to_dict()
    result: dict[str, Any] = {"name": aligned.registered_name, "version": version, "optimizer": optimizer}
    if promote:
        result["promotion"] = _promote(base, aligned, report, exp.experiment_id, force)
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
    emit_json(result, as_json, json_file)
    if as_json:
        if promote and not result["promotion"].get("promoted"):
            raise typer.Exit(GATE_EXIT)
        return
    champion = get_aliases(aligned.registered_name or "").get("champion")
    status = "champion" if champion == version else f"a candidate; the champion is version {champion}"
    console.print(f"registered [bold]{aligned.registered_name}[/] version {version} ({status})")
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
    if promote and not result["promotion"].get("promoted"):
        fail(result["promotion"]["reason"], code=GATE_EXIT)
    if champion != version and not promote:
        console.print(
            f"promote it with: accord judges promote {aligned.registered_name}@{version} -e {experiment}",
            markup=False,
        )


def _promote(base: Any, aligned: Any, report: dict[str, Any] | None, experiment_id: str, force: bool) -> dict[str, Any]:
    """--promote: when the judge aligned was the champion, the held-out comparison alignment already made
    decides; otherwise the registry scores the champion and the new version on the experiment."""
    from accord.errors import PromotionRefused
    from accord.registry import promote

    name, version = aligned.registered_name, aligned.version
    measured = None
    if (
        report
        and report.get("held_out")
        and base.registered_name == name
        and base.version == get_aliases(name).get("champion")
    ):
        measured = (_agreement(report["before"]), _agreement(report["after"]))
    try:
        return promote(name, version, experiment_id, force=force, measured=measured)
    except PromotionRefused as exc:
        return {"promoted": False, "reason": str(exc), **exc.figures}


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
