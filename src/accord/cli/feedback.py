"""`accord feedback import|export|list`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json, short
from accord.importing import import_feedback
from accord.store import get_store

app = typer.Typer(help="Import and list feedback (human labels, judge verdicts).", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_command(
    file: Path = typer.Argument(
        ..., help="JSONL (trace_id, name, value, rationale, source {type, id}) or Parquet with those columns."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add assessments to stored traces by trace_id. All lines land, or none and every bad line is listed."""
    report = import_feedback(file)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(f"imported [bold]{report.assessments}[/] assessments")


@app.command("export")
@handle_errors
def export_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    out: Path = typer.Option(..., "--out", "-o", help="FILE.jsonl, or FILE.parquet for Parquet (pyarrow)."),
    name: str | None = typer.Option(None, "--name", help="Only feedback with this name."),
    source_type: str | None = typer.Option(None, "--source-type", help="HUMAN, LLM_JUDGE or CODE."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write an experiment's feedback (verdicts and labels) one a row: trace_id, name, value, rationale,
    source, judge_key, error."""
    from accord.exporting import export_feedback

    count = export_feedback(experiment, out, name, _source_type(source_type))
    if as_json:
        print_json({"feedback": count, "path": str(out)})
        return
    console.print(f"wrote [bold]{count}[/] feedback to {out}")


@app.command("list")
@handle_errors
def list_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    name: str | None = typer.Option(None, "--name", help="Only feedback with this name."),
    source_type: str | None = typer.Option(None, "--source-type", help="HUMAN, LLM_JUDGE or CODE."),
    include_overridden: bool = typer.Option(False, help="Also list feedback a later one overrides."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List feedback in an experiment, oldest first."""
    store = get_store()
    exp = store.resolve_experiment(experiment)
    items = [
        a
        for a in store.search_assessments(
            [exp.experiment_id],
            name=name,
            source_type=_source_type(source_type),
            include_invalid=include_overridden,
        )
        if a.kind == "feedback"
    ]
    if as_json:
        print_json([a.model_dump(mode="json") for a in items])
        return
    table = Table(title=f"{len(items)} feedback in {exp.name}")
    for column in ("trace_id", "name", "value", "source", "rationale"):
        table.add_column(column)
    for a in items:
        value = f"error: {short(a.error.error_message, 30)}" if a.error else short(a.value, 20)
        table.add_row(
            a.trace_id,
            a.name,
            value,
            f"{a.source.source_type.value}:{a.source.source_id}",
            short(a.rationale or "", 50),
        )
    console.print(table)


def _source_type(value: str | None) -> str | None:
    """HUMAN, LLM_JUDGE or CODE in any case; anything else is an error that lists them."""
    if value is None:
        return None
    if value.upper() not in ("HUMAN", "LLM_JUDGE", "CODE"):
        raise ValueError(f"--source-type must be HUMAN, LLM_JUDGE or CODE, not {value!r}")
    return value.upper()
