"""The one loop every evaluation runs, whatever computes the verdicts (threads or Ray) and wherever they go
(the store or part files): keep the runner fed from the work queue, write finished verdicts in batches,
renew the run's claims, stop after STOP_AFTER_UNREACHABLE verdicts in a row could not reach the model, and
at the end wait for the traces another run of the same judge holds."""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from accord.entities import Feedback
from accord.errors import RunStopped
from accord.evaluation.claims import WorkQueue
from accord.evaluation.runners import Runner
from accord.evaluation.sinks import Sink
from accord.progress import PROGRESS_CONSOLE

STOP_AFTER_UNREACHABLE = 5  # verdicts in a row that could not reach the model: the run stops
WAIT_FOR_OTHERS_S = 1.0  # between looks at traces another run holds


def progress_bar(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show,
        transient=False,
        console=PROGRESS_CONSOLE,
    )


def drive(work: WorkQueue, runner: Runner, sink: Sink, show_progress: bool) -> None:
    """Judge every item of `work` on `runner`, writing verdicts to `sink` and into `work.result`. Ctrl-C or a
    stop leaves every finished verdict written; the claims are released whatever happens."""
    result = work.result
    reused_before = len(result.reused)  # stored before the run started: not part of its progress
    buffer: list[Feedback] = []
    last_write = time.monotonic()

    def write() -> None:
        nonlocal last_write
        if buffer:
            sink.write(list(buffer))
            buffer.clear()
        last_write = time.monotonic()

    def feed() -> None:
        while runner.in_flight() < runner.capacity and (item := work.next()) is not None:
            runner.submit(item)

    try:
        with progress_bar(show_progress) as progress:
            task = progress.add_task(runner.label, total=work.total)
            feed()
            unreachable = 0  # verdicts in a row whose model could not be reached
            while runner.in_flight() or work.held:
                if not runner.in_flight():  # only traces another run is judging are left: wait for it
                    write()
                    result.waited_for_others = max(result.waited_for_others, len(work.held))
                    progress.update(task, description=f"waiting for another run on {len(work.held)} traces")
                    time.sleep(WAIT_FOR_OTHERS_S)
                    work.renew()
                    work.retry_held()
                    feed()
                    continue
                for verdict in runner.finished(timeout=0.5):
                    result.verdicts.append(verdict)
                    buffer.append(verdict)
                    lost = verdict.error is not None and verdict.error.error_code == "MODEL_UNREACHABLE"
                    unreachable = unreachable + 1 if lost else 0
                    if unreachable >= STOP_AFTER_UNREACHABLE:
                        assert verdict.error is not None
                        raise RunStopped(
                            f"stopped: {unreachable} verdicts in a row could not reach the model "
                            f"({verdict.error.error_message}); the {len(result.verdicts)} verdicts finished are "
                            "kept, and a re-run continues where this one stopped"
                        )
                feed()
                work.renew()
                progress.update(task, completed=len(result.verdicts) + len(result.reused) - reused_before)
                late = sink.seconds is not None and time.monotonic() - last_write > sink.seconds
                if len(buffer) >= sink.every or (buffer and late):
                    write()
    except KeyboardInterrupt:
        result.interrupted = True
        raise
    finally:
        runner.close()
        write()
        work.release_all()
