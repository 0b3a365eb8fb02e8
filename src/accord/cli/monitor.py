"""`accord monitor`: judge new production traces at a sampling rate, keep rolling figures, raise alerts."""

from __future__ import annotations

import typer

from accord.cli.common import console, handle_errors
from accord.registry import resolve_judge


@handle_errors
def monitor_command(
    experiment: str = typer.Option(..., "--experiment", "-e", help="Experiment whose new traces to judge."),
    judge: str = typer.Option(..., "--judge", "-j", help="NAME[@VERSION] of the judge (or scorer) to run."),
    sample: float = typer.Option(
        1.0, "--sample", help="Share of traces to judge, e.g. 0.1 (the same ones after a restart)."
    ),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between cycles."),
    window: int = typer.Option(200, "--window", help="Figures over the newest this many sampled traces."),
    alert: list[str] = typer.Option(
        [], "--alert", help="A threshold, e.g. 'kappa<0.4', 'no_rate>0.3', 'errors>0.05' (repeatable)."
    ),
    webhook: str | None = typer.Option(None, "--webhook", help="POST each alert as JSON to this URL."),
    cycles: int | None = typer.Option(
        None, "--cycles", help="Stop after this many cycles (default: run until Ctrl-C)."
    ),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="Judgments in flight at once."),
    include_learned: bool = typer.Option(
        False,
        "--include-learned",
        help="Agreement also on traces the judge learned from (left out by default: they flatter it).",
    ),
) -> None:
    """Run until stopped: each cycle judges the sampled traces not judged yet, prints the rolling figures
    (verdict rates, error rate, agreement with human feedback that arrived on judged traces) and an ALERT line
    when a threshold is crossed or clears. Restart it freely: nothing is judged twice, nothing skipped."""
    from accord.monitoring import Alert, Monitor

    parsed = [Alert.parse(a) for a in alert]
    found = resolve_judge(judge)
    console.print(
        f"monitoring {experiment} with {found.key} (sample {sample:g}, every {interval:g} s"
        + (f", alerts: {', '.join(map(str, parsed))}" if parsed else "")
        + "); Ctrl-C to stop",
        soft_wrap=True,
    )
    monitor = Monitor(
        experiment,
        found,
        sample,
        parsed,
        webhook,
        window,
        concurrency,
        emit=lambda line: console.print(line, markup=False, soft_wrap=True),
        include_learned=include_learned,
    )
    try:
        monitor.run(interval, cycles)
    except KeyboardInterrupt:
        console.print("stopped; what was judged is stored, and a restart continues from there")
