"""Where traces already live: `accord traces import-mlflow`, `accord feedback export-mlflow`,
`accord traces import-otlp` and `accord traces serve-otlp`."""

from __future__ import annotations

from pathlib import Path

import typer

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json
from accord.registry import resolve_judge

TRACKING_URI = typer.Option(
    ..., "--tracking-uri", help="MLflow tracking URI: http://host:5000, sqlite:///mlflow.db, ./mlruns."
)


@handle_errors
def import_mlflow_command(
    tracking_uri: str = TRACKING_URI,
    mlflow_experiment: str = typer.Option(..., "--mlflow-experiment", help="MLflow experiment name (or id)."),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="accord experiment (default: the same name)."
    ),
    max_results: int | None = typer.Option(None, "--max-results", "-n", help="At most this many traces."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import an MLflow experiment's traces with spans, inputs, outputs and assessments (their source types
    kept: HUMAN feedback counts for alignment, LLM_JUDGE verdicts do not). Run again to import what is new."""
    from accord.integrations.mlflow import import_traces

    report = import_traces(tracking_uri, mlflow_experiment, experiment, max_results, show_progress=not as_json)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"imported [bold]{report.imported}[/] traces ({report.assessments} assessments) from MLflow experiment "
        f"[bold]{mlflow_experiment}[/]; {report.already_stored} were already stored"
    )
    for problem in report.skipped[:5]:
        console.print(f"  skipped {problem}", markup=False)


@handle_errors
def export_mlflow_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="accord experiment whose verdicts to export."),
    judge: str = typer.Option(..., "--judge", "-j", help="NAME[@VERSION] of the judge whose verdicts to export."),
    tracking_uri: str = TRACKING_URI,
    mlflow_experiment: str = typer.Option(..., "--mlflow-experiment", help="MLflow experiment (created if new)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Log a judge's verdicts to MLflow as feedback assessments (source LLM_JUDGE, the judge's name and
    version in metadata). Verdicts already exported are not exported twice."""
    from accord.integrations.mlflow import export_verdicts

    report = export_verdicts(experiment, resolve_judge(judge), tracking_uri, mlflow_experiment)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"exported [bold]{report.exported}[/] verdicts to MLflow experiment [bold]{mlflow_experiment}[/]"
        f" ({report.already_exported} already there; {report.traces_created} traces created in MLflow)"
    )


@handle_errors
def import_otlp_command(
    file: Path = typer.Argument(
        ..., help="OTLP JSON: a collector's file exporter output (one request a line), or one document."
    ),
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment to import into (created if new)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import OpenTelemetry traces (OpenInference and GenAI semantic conventions: input.value, output.value,
    llm.* and gen_ai.* attributes, session ids). Traces already stored get the spans they lacked."""
    from accord.integrations.otlp import import_otlp_file

    report = import_otlp_file(file, experiment)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"imported [bold]{report.traces}[/] traces ({report.spans} spans) into experiment [bold]{experiment}[/]"
        + (f"; {report.updated} already stored got new spans" if report.updated else "")
    )


@handle_errors
def serve_otlp_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment the received traces go to."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs a token."),
    port: int = typer.Option(4318, "--port", "-p", help="Port (4318 is OTLP/HTTP's usual one)."),
    token: str | None = typer.Option(
        None, "--token", help="Bearer token every request must carry (or ACCORD_REVIEW_TOKEN); needed off loopback."
    ),
    allowed_host: list[str] = typer.Option([], "--allowed-host", help="A further host name it answers for."),
) -> None:
    """Receive OTLP/HTTP traces (protobuf or JSON) at /v1/traces, so an application instrumented with the
    OpenTelemetry SDK sends its traces straight to accord. Stop it with Ctrl-C."""
    from accord.integrations.otlp_server import serve
    from accord.web.security import check_exposure

    token = check_exposure(host, token, "the OTLP receiver")
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    console.print(f"OTLP/HTTP receiver: http://{shown}:{port}/v1/traces -> experiment {experiment}", soft_wrap=True)
    serve(experiment, host=host, port=port, token=token, extra_hosts=list(allowed_host))
