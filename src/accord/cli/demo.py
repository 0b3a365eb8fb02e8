"""`accord demo`: the main job on the packaged example data and the embedded local model."""

from __future__ import annotations

import typer

from accord.cli.common import handle_errors
from accord.config import default_model


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
    from accord.demo.run import run_demo

    run_demo(model or default_model(), test_size=test_size, experiment=experiment, json_path=json_path)
