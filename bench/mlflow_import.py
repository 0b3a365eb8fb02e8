"""Importing 10,000 traces from a real MLflow tracking server (SQLite backend, started here on 127.0.0.1):
wall time, traces per second and peak memory of `accord traces import-mlflow`, and of a second, incremental
import that finds everything stored.

    python bench/mlflow_import.py [--traces 10000]

The traces (a root span and a child span each, one HUMAN feedback on every other one) are made first with
MLflow's own API, into the server's SQLite store; that part is not timed. Results: bench/results/mlflow_import.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _common import isolated_home, save

home = isolated_home()
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# Traces are exported as they end: a background export queue drops spans when 10,000 are made in a burst.
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
# The server's background job runner (a pool of huey consumers) is not used here and would share the cores.
os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_traces(uri: str, n: int) -> None:
    import mlflow
    from mlflow.entities import AssessmentSource

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("import-bench")
    ids = []
    for i in range(n):
        with mlflow.start_span(name="answer", span_type="CHAIN") as root:
            root.set_inputs({"question": f"My order {i} arrived broken"})
            with mlflow.start_span(name="llm", span_type="LLM") as child:
                child.set_inputs({"prompt": f"order {i}"})
                child.set_outputs("Please use the returns form.")
            root.set_outputs("Please use the returns form.")
            ids.append(root.trace_id)
    for i, trace_id in enumerate(ids[::2]):
        mlflow.log_feedback(
            trace_id=trace_id,
            name="policy",
            value="yes" if i % 3 else "no",
            source=AssessmentSource(source_type="HUMAN", source_id="ana"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=10_000)
    args = parser.parse_args()
    port = _port()
    folder = home / "mlflow"
    folder.mkdir()
    # Made straight into the server's SQLite store before it starts (through the server's REST API it takes
    # about 100 ms a trace on 2 cores); only the import, over HTTP, is timed.
    started = time.perf_counter()
    _make_traces(f"sqlite:///{folder / 'mlflow.db'}", args.traces)
    made = time.perf_counter() - started
    binary = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    server = subprocess.Popen(
        [
            binary,
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--default-artifact-root",
            (folder / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        from accord.integrations.mlflow import import_traces

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        first = import_traces(uri, "import-bench", experiment="imported")
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        second = import_traces(uri, "import-bench", experiment="imported")
        again = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    save(
        "mlflow_import",
        {
            "traces": args.traces,
            "made_with_mlflow_s": round(made, 1),
            "import": {**first.to_dict(), "wall_s": round(wall, 1), "traces_per_s": round(first.imported / wall, 1)},
            "peak_rss_mb": round(peak, 1),
            "rss_before_import_mb": round(before, 1),
            "second_import": {**second.to_dict(), "wall_s": round(again, 1)},
        },
    )


if __name__ == "__main__":
    main()
