"""`accord feedback import|export|list|schema`."""

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


@app.command("schema")
@handle_errors
def schema_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment name or id."),
    name: str | None = typer.Argument(None, help="The feedback name; without it, every schema is listed."),
    value_type: str | None = typer.Argument(
        None, help="Its values, written as a judge's: \"Literal['good', 'fair', 'poor']\", bool, int, float or str."
    ),
    delete: bool = typer.Option(False, "--delete", help="Remove the schema of NAME (labels stay as they are)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Declare the values experts may give under a feedback name, before any judge exists: labels outside
    them are refused (naming the allowed values) and the review page offers exactly these. Without NAME,
    list the experiment's schemas; with NAME alone, show its schema."""
    from accord.label_schemas import delete_label_schema, get_label_schema, label_schemas, set_label_schema

    if name is None:
        found = {n: str(v) for n, v in label_schemas(experiment).items()}
        if as_json:
            print_json(found)
        else:
            for n, v in found.items():
                console.print(f"{n}: {v}", soft_wrap=True)
            if not found:
                console.print("no label schema declared")
        return
    if delete:
        removed = delete_label_schema(name, experiment)
        if as_json:
            print_json({"name": name, "deleted": removed})
        else:
            console.print(f"{'removed the' if removed else 'there was no'} label schema for {name!r}")
        return
    if value_type is None:
        shown = get_label_schema(name, experiment)
        if as_json:
            print_json({"name": name, "value_type": str(shown) if shown else None})
        else:
            console.print(f"{name}: {shown}" if shown else f"no label schema for {name!r}", soft_wrap=True)
        return
    outside = set_label_schema(name, value_type, experiment)
    shown = get_label_schema(name, experiment)
    if as_json:
        print_json({"name": name, "value_type": str(shown), "stored_labels_outside": outside})
        return
    console.print(f"{name}: {shown}", soft_wrap=True)
    if outside:
        console.print(f"labels already stored outside it (kept; new ones are refused): {outside}", soft_wrap=True)


def _source_type(value: str | None) -> str | None:
    """HUMAN, LLM_JUDGE or CODE in any case; anything else is an error that lists them."""
    if value is None:
        return None
    if value.upper() not in ("HUMAN", "LLM_JUDGE", "CODE"):
        raise ValueError(f"--source-type must be HUMAN, LLM_JUDGE or CODE, not {value!r}")
    return value.upper()
