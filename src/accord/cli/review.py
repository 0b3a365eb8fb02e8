"""`accord review` (the review web page) and `accord report` (the same figures as one HTML file)."""

from __future__ import annotations

from pathlib import Path

import typer

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json
from accord.registry import resolve_judge
from accord.store import get_store


@handle_errors
def review_command(
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Experiment to review (name or id)."),
    judge: str | None = typer.Option(
        None,
        "--judge",
        "-j",
        help="NAME or NAME@VERSION whose verdicts to show and whose feedback name to collect "
        "(default: the experiment's only registered judge).",
    ),
    feedback: str | None = typer.Option(
        None,
        "--feedback",
        "-f",
        help="Without a judge: the feedback name to label under (default: the name most used on the traces; "
        "the page lets the reviewer choose another).",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs a token."),
    port: int = typer.Option(8765, "--port", "-p", help="Port to listen on."),
    token: str | None = typer.Option(
        None,
        "--token",
        help="Access token every request must carry; required when --host is not a loopback address. "
        "Prefer setting ACCORD_REVIEW_TOKEN: a command line is visible to other users of the machine.",
        show_default=False,
    ),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Default reviewer name for this browser."),
    rationale: str = typer.Option(
        "nudge",
        "--rationale",
        help="When a label needs a reason: nudge (asked once when it differs from the judge's verdict), "
        "disagreement (refused without one when it differs) or always.",
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="A further host name the page answers for (repeatable), e.g. the name a reverse proxy forwards. "
        "It always answers for 127.0.0.1, localhost, ::1 and --host; any other Host header gets 421.",
    ),
) -> None:
    """Open the review page: a queue of traces to give feedback on, and the alignment view with agreement
    charts, guidelines and an Align button. Without a judge, experts label the traces under a feedback name
    (--feedback, or one chosen on the page) before any judge exists. Stop it with Ctrl-C."""
    from accord.review import ReviewSettings, serve
    from accord.web.security import check_exposure

    if experiment:
        get_store().resolve_experiment(experiment)  # a clear error now rather than on the first page
    if judge:
        resolve_judge(judge)
    if judge and feedback:
        raise typer.BadParameter("give --judge (its name is the feedback name) or --feedback, not both")
    settings = ReviewSettings(
        experiment=experiment,
        judge=judge,
        feedback=feedback,
        token=token,
        reviewer=reviewer,
        allowed_hosts=list(allowed_host),
        rationale=rationale,
    )
    settings.token = check_exposure(host, token)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    _port_is_free(host, port)  # fail before printing a URL that nothing will answer
    # the token itself is never printed: whoever started the server already has it
    hint = "  (first visit: add ?token=<your token> to the link)" if settings.token else ""
    console.print(f"review page: http://{shown}:{port}/{hint}  (Ctrl-C to stop)", soft_wrap=True, highlight=False)
    serve(settings, host=host, port=port)


@handle_errors
def report_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment (name or id)."),
    judge: str = typer.Option(
        ..., "--judge", "-j", help="NAME or NAME@VERSION; every registered version of it is compared."
    ),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="Where to write the HTML file."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write one self-contained HTML file with agreement before/after (with intervals), confusion matrices,
    the learning curve, disagreements and guidelines, from the verdicts and feedback already stored."""
    from accord.review.report import write_report

    board = write_report(experiment, resolve_judge(judge), out)
    if json_output:
        print_json(board.to_dict())
        return
    console.print(f"wrote {out} ({len(board.scored)} scored version(s), {board.labelled} labelled traces)")


def _port_is_free(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ValueError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): another program uses it; pick another "
                "with --port"
            ) from None
