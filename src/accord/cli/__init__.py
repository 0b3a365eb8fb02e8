"""The `accord` command line: one module per command group, thin over the library."""

from __future__ import annotations

import logging

import typer

from accord.cli import alignment, cache, demo, doctor, experiments, feedback, interop, judges, monitor, review, traces
from accord.cli.common import JsonOutCommand, fail, moved, plain_metavars
from accord.config import configure, reload_settings
from accord.errors import ConfigError

app = typer.Typer(
    help="accord: make LLM judges agree with human experts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
traces.app.command("import-mlflow")(interop.import_mlflow_command)
traces.app.command("import-otlp")(interop.import_otlp_command)
traces.app.command("serve-otlp")(interop.serve_otlp_command)
feedback.app.command("export-mlflow")(interop.export_mlflow_command)
# old spellings, kept for one release: hidden from help, and each says where its command moved
judge_app = typer.Typer(hidden=True, no_args_is_help=True)
judge_app.command("run", hidden=True)(moved(judges.run_command, "accord judges run"))
app.add_typer(experiments.app, name="experiments")
app.add_typer(traces.app, name="traces")
app.add_typer(feedback.app, name="feedback")
app.add_typer(judges.app, name="judges")
app.add_typer(judge_app, name="judge", hidden=True)
app.add_typer(cache.app, name="cache")
app.command("evaluate", cls=JsonOutCommand)(alignment.evaluate_command)
app.command("align", cls=JsonOutCommand)(alignment.align_command)
app.command("demo", cls=JsonOutCommand)(demo.demo_command)
app.command("doctor")(doctor.doctor_command)
app.command("review")(review.review_command)
app.command("report")(review.report_command)
app.command("export-mlflow", hidden=True)(moved(interop.export_mlflow_command, "accord feedback export-mlflow"))
app.command("serve-otlp", hidden=True)(moved(interop.serve_otlp_command, "accord traces serve-otlp"))
app.command("monitor")(monitor.monitor_command)


def _version(value: bool) -> None:
    if value:
        from accord import __version__

        typer.echo(f"accord {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the on-disk response cache for model calls."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print accord's version and exit."
    ),
) -> None:
    """Traces in, judge verdicts, human feedback, agreement out. Data lives in $ACCORD_HOME (~/.accord)
    or the database named by ACCORD_STORE_URI; models are URIs such as local:/qwen2.5-coder-1.5b."""
    try:
        reload_settings()  # the environment this command runs in, read once
    except ConfigError as exc:
        fail(str(exc))
    if no_cache:
        configure(use_cache=False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    command = typer.main.get_command(app)
    plain_metavars(command)
    command(prog_name="accord")
