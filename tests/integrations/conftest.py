"""Real services on 127.0.0.1 for the interop tests: an MLflow tracking server (SQLite backend)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import need
from tests.review.conftest import free_port


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` started for these tests; its tracking URI."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        need(False, "the mlflow package (pip install 'accord[mlflow]')")
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    binary = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    process = subprocess.Popen(
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
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "w"),  # noqa: SIM115 - closed with the process
        # The server's background job runner (a pool of consumer processes) is not used by these tests.
        env={
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PATH": str(Path(sys.executable).parent),
        },
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # its first start builds the database: minutes on 2 busy cores
    while True:
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not start: {(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield uri
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head node on 127.0.0.1 (`ray start --head`), its address; stopped after the module."""
    try:
        import ray
    except ImportError:
        need(False, "Ray (pip install 'accord[ray]')")
    port = free_port()
    binary = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    folder = tmp_path_factory.mktemp("ray")
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "RAY_USAGE_STATS_ENABLED": "0",
        "HOME": str(folder),
    }
    started = subprocess.run(
        [
            binary,
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={folder}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if started.returncode != 0:
        raise RuntimeError(f"ray start failed: {started.stdout[-2000:]} {started.stderr[-2000:]}")
    address = f"127.0.0.1:{port}"
    yield address
    ray.shutdown()
    subprocess.run([binary, "stop", "--force"], env=env, capture_output=True, timeout=120)
