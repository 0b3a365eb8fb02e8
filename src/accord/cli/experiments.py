"""`accord experiments list|delete`."""

from __future__ import annotations

import typer
from rich.table import Table

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json
from accord.experiments import delete_experiment, search_experiments
from accord.store import get_store

app = typer.Typer(help="List and delete experiments.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_command(as_json: bool = JSON_OPTION) -> None:
    """Every experiment, oldest first, with how many traces it holds."""
    store = get_store()
    rows = [
        {"name": e.name, "experiment_id": e.experiment_id, "traces": store.count_traces(e.experiment_id)}
        for e in search_experiments()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="experiments")
    for column in ("name", "id", "traces"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["experiment_id"], str(row["traces"]))
    console.print(table)


@app.command("delete")
@handle_errors
def delete_command(
    experiment: str = typer.Argument(..., help="Experiment name or id."),
    yes: bool = typer.Option(False, "--yes", help="Delete without asking."),
    discard_labels: bool = typer.Option(
        False, "--discard-labels", help="Delete it even though it holds expert (HUMAN) labels, deleting them."
    ),
) -> None:
    """Delete an experiment with its traces and their feedback (judge verdicts; expert labels only with
    --discard-labels)."""
    if not yes and not typer.confirm(f"Delete experiment {experiment!r} with its traces and their feedback?"):
        raise typer.Exit(1)
    deleted = delete_experiment(experiment, discard_labels=discard_labels)
    console.print(f"deleted experiment {experiment} and its {deleted} traces", markup=False)
