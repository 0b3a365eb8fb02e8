"""`accord traces import|export|list|show` (MLflow and OTLP imports: cli/interop.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from accord.api import get_trace
from accord.cli.common import JSON_OPTION, console, handle_errors, print_json, short
from accord.importing import import_traces
from accord.judges.rendering import render_span_tree
from accord.store import get_store

app = typer.Typer(help="Import, list and inspect traces.", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_command(
    file: Path = typer.Argument(
        ..., help="Traces JSONL (one trace a line: trace_id, inputs, outputs, ...) or Parquet with those columns."
    ),
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment to import into (created if new)."),
    on_conflict: str = typer.Option(
        "error",
        help="For trace ids already stored: error (reject), skip, replace, or new-ids (import a copy).",
    ),
    discard_labels: bool = typer.Option(
        False,
        "--discard-labels",
        help="With --on-conflict replace: also replace traces experts labelled, deleting those labels.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import traces with their assessments. All lines land, or none and every bad line is listed."""
    if on_conflict not in ("error", "skip", "replace", "new-ids"):
        raise ValueError(f"--on-conflict must be error, skip, replace or new-ids, not {on_conflict!r}")
    report = import_traces(file, experiment, on_conflict=on_conflict, discard_labels=discard_labels)  # type: ignore[arg-type]
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"imported [bold]{report.imported}[/] traces with {report.assessments} assessments into "
        f"experiment [bold]{experiment}[/]"
        + (f"; skipped {len(report.skipped)} already stored" if report.skipped else "")
    )


@app.command("export")
@handle_errors
def export_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    out: Path = typer.Option(..., "--out", "-o", help="FILE.jsonl, or FILE.parquet for Parquet (pyarrow)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write every trace of an experiment, with its feedback and expectations, in the columns
    `accord traces import` reads."""
    from accord.exporting import export_traces

    count = export_traces(experiment, out)
    if as_json:
        print_json({"traces": count, "path": str(out)})
        return
    console.print(f"wrote [bold]{count}[/] traces to {out}")


@app.command("list")
@handle_errors
def list_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    tag: list[str] = typer.Option([], "--tag", help="Only traces with this tag, as KEY=VALUE (repeatable)."),
    max_results: int = typer.Option(50, "--max-results", "-n", help="At most this many traces."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the newest traces of an experiment."""
    store = get_store()
    exp = store.resolve_experiment(experiment)
    tags = dict(t.split("=", 1) for t in tag if "=" in t)
    ids = store.search_trace_ids([exp.experiment_id], tags=tags, max_results=max_results)
    traces = store.get_traces(ids)
    if as_json:
        print_json([t.model_dump(mode="json", exclude={"spans"}) for t in traces])
        return
    table = Table(title=f"{len(traces)} traces in {exp.name}")
    for column in ("trace_id", "inputs", "outputs", "assessments"):
        table.add_column(column)
    for trace in traces:
        table.add_row(trace.trace_id, short(trace.inputs, 40), short(trace.outputs, 50), str(len(trace.assessments)))
    console.print(table)


@app.command("show")
@handle_errors
def show_command(trace_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show one trace: inputs, outputs, span tree and every assessment."""
    trace = get_trace(trace_id)
    if as_json:
        print_json(trace.model_dump(mode="json"))
        return
    console.print(f"[bold]{trace.trace_id}[/] (experiment {trace.experiment_id}, session {trace.session_id})")
    console.print("[bold]inputs:[/]", short(trace.inputs, 400), markup=True, highlight=False)
    console.print("[bold]outputs:[/]", short(trace.outputs, 400), markup=True, highlight=False)
    if trace.spans:
        console.print("[bold]spans:[/]")
        console.print(render_span_tree(trace.spans), markup=False, highlight=False)
    for a in trace.search_assessments(all=True):
        mark = "" if a.valid else " (overridden)"
        console.print(
            f"- {a.kind} {a.name} = {a.value!r} by {a.source.source_type.value}:{a.source.source_id}{mark}"
            + (f" — {a.rationale}" if a.rationale else "")
            + (f" [error: {a.error.error_message}]" if a.error else ""),
            markup=False,
            highlight=False,
        )
