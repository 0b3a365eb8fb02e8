"""`accord demo`: the main job on the packaged example data and the embedded local model. Import → split →
the generic judge on the held-out test split → align on the training split → the aligned judge on the same
test split → both versions registered, the aligned one promoted when it agrees more."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console

from accord.cli.common import agreement_summary, confusion_table, handle_errors, selection_lines
from accord.config import default_model
from accord.demo import DATA, JUDGE_NAME, POLICY, demo_judge, demo_split
from accord.experiments import set_experiment
from accord.importing import import_traces
from accord.metrics import Agreement
from accord.registry import get_aliases, set_alias
from accord.store import get_store

console = Console(soft_wrap=True)  # long lines stay whole: easier to read back and to grep


@handle_errors
def demo_command(
    model: str = typer.Option(
        None, "--model", help="Judge model URI (default: ACCORD_DEFAULT_MODEL or the embedded model)."
    ),
    test_size: int = typer.Option(40, "--test-size", help="Traces in the held-out test split."),
    experiment: str = typer.Option("support-demo", "--experiment", "-e", help="Experiment name (a fresh one is made)."),
    json_path: str | None = typer.Option(
        None, "--json-out", help="Also write the figures (before, after, chosen, align_seconds) to this file."
    ),
) -> None:
    """The whole loop on the example support traces with the embedded model: a generic judge's agreement
    with the experts on a held-out test split, alignment on the training split (MemAlign: checks asked one by
    one, a decision fitted to the experts, the candidate that cross-validates best), the aligned judge on the
    same test split, and both judge versions registered."""
    run_demo(model or default_model(), test_size=test_size, experiment=experiment, json_path=json_path)


def fresh_experiment_name(base: str) -> str:
    store = get_store()
    if store.get_experiment_by_name(base) is None:
        return base
    number = 2
    while store.get_experiment_by_name(f"{base}-{number}") is not None:
        number += 1
    return f"{base}-{number}"


def print_agreement(title: str, result: Agreement) -> None:
    console.print(agreement_summary(title, result, digits=2))
    console.print(confusion_table(result.labels, result.confusion, rows_are="experts"))


def run_demo(
    model: str, test_size: int = 40, experiment: str = "support-demo", json_path: str | None = None
) -> dict[str, Any]:
    """Baseline on the test split → align on the training split → aligned judge on the same test split →
    register. Returns the figures (`accord demo --json-out PATH` writes them)."""
    from accord.agreement import evaluate_agreement
    from accord.align import MemAlignOptimizer

    name = fresh_experiment_name(experiment)
    exp = set_experiment(name)
    report = import_traces(DATA, name, on_conflict="new-ids")
    console.print(
        f"imported {report.imported} support traces with {report.assessments} assessments into [bold]{name}[/]"
    )
    store = get_store()
    traces = store.get_traces(store.search_trace_ids([exp.experiment_id], newest_first=False))
    train, test = demo_split(traces, test_size)
    console.print(f"split: {len(train)} training traces for alignment, {len(test)} held-out test traces")

    judge = demo_judge(model)
    judge.register(experiment_id=exp.experiment_id)
    console.rule("1. the generic judge on the held-out test split")
    started = time.perf_counter()
    before = evaluate_agreement(judge, test, concurrency=4)
    before_seconds = time.perf_counter() - started
    print_agreement(f"{judge.key} vs experts", before.agreement)

    console.rule("2. align on the training split (MemAlign: checks, a fitted decision, the best candidate kept)")
    console.print(f"the experts' written policy, {POLICY.name}, gives one check per rule before any feedback")
    started = time.perf_counter()
    aligned = judge.align(train, MemAlignOptimizer(), policy=POLICY)
    align_seconds = time.perf_counter() - started
    version = aligned.register(experiment_id=exp.experiment_id, tags={"optimizer": "memalign"})
    console.print(f"aligned in {align_seconds:.0f} s; registered {aligned.key}; guidelines distilled:")
    for i, text in enumerate(aligned.guidelines, start=1):
        console.print(f"  {i}. {text}", markup=False)
    for line in selection_lines(aligned):
        console.print(line, markup=False, highlight=False)

    console.rule("3. the aligned judge on the same held-out test split")
    started = time.perf_counter()
    after = evaluate_agreement(aligned, test, concurrency=4)
    after_seconds = time.perf_counter() - started
    print_agreement(f"{aligned.key} vs experts", after.agreement)

    gain = after.agreement.cohen_kappa - before.agreement.cohen_kappa
    console.rule("result")
    chosen = getattr(aligned, "selection", {}).get("chosen", "prompt")
    console.print(
        f"chosen: {chosen}. Cohen's kappa {before.agreement.cohen_kappa:.2f} → {after.agreement.cohen_kappa:.2f} "
        f"({gain:+.2f}); accuracy {before.agreement.accuracy:.2f} → {after.agreement.accuracy:.2f}; "
        f"unparseable verdicts: {before.agreement.extra['unparseable']} before, "
        f"{after.agreement.extra['unparseable']} after; time per test verdict {before_seconds / len(test):.1f} s "
        f"before, {after_seconds / len(test):.1f} s after (4 in flight)"
    )
    if after.agreement.cohen_kappa > before.agreement.cohen_kappa:  # better on the held-out split: promoted
        set_alias(JUDGE_NAME, "champion", version)
    champion = get_aliases(JUDGE_NAME).get("champion")
    console.print(
        f"judge versions: {JUDGE_NAME}@1 (generic), {JUDGE_NAME}@{version} (aligned) in experiment {name}; "
        f"the champion (what `--judge {JUDGE_NAME}` means) is version {champion}"
    )
    if after.disagreements:
        console.print(f"{len(after.disagreements)} test traces where the aligned judge still disagrees, e.g.:")
        for row in after.disagreements[:3]:
            console.print(
                f"  {row['trace_id']}: experts {row['human']}, judge {row['judge']} — {row['rationale']}", markup=False
            )
    console.print(
        f"see it as charts, or review more traces: accord review --experiment {name} --judge {JUDGE_NAME}",
        markup=False,
    )
    figures = {
        "experiment": name,
        "model": model,
        "train": len(train),
        "test": len(test),
        "before": _figures(before.agreement, before_seconds),
        "after": _figures(after.agreement, after_seconds),
        "chosen": chosen,
        "selection": getattr(aligned, "selection", None),
        "align_seconds": round(align_seconds, 1),
    }
    if json_path:
        import json
        from pathlib import Path

        Path(json_path).write_text(json.dumps(figures, indent=2, default=str) + "\n")
        console.print(f"wrote {json_path}")
    return figures


def _figures(result: Agreement, seconds: float) -> dict[str, Any]:
    return {
        "n": result.n,
        "accuracy": round(result.accuracy, 4),
        "cohen_kappa": round(result.cohen_kappa, 4) if result.kappa_defined else None,
        "kappa_ci": [round(v, 4) for v in result.kappa_ci] if result.kappa_defined else None,
        "unparseable": result.extra.get("unparseable", 0),
        "seconds": round(seconds, 1),
    }
