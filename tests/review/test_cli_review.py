"""`accord review` as a real process, its refusal to be exposed without a token, and `accord report`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.errors import ConfigError
from accord.review.server import check_exposure
from tests.review.conftest import XSS_OUTPUT, Populated, free_port

runner = CliRunner()


@pytest.fixture(params=["sqlite"])
def store_uri(request: pytest.FixtureRequest) -> str:
    from accord.store import get_store

    return get_store().uri


def test_exposed_without_token_is_refused() -> None:
    result = runner.invoke(app, ["review", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "refusing to serve the review page on 0.0.0.0 without an access token" in result.output
    with pytest.raises(ConfigError, match="at least 16 characters"):
        check_exposure("0.0.0.0", "short")
    assert check_exposure("127.0.0.1", None) is None
    assert check_exposure("::1", None) is None
    assert check_exposure("0.0.0.0", "a-long-enough-token-123") == "a-long-enough-token-123"


def test_review_command_serves_the_page(populated: Populated) -> None:
    port = free_port()
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "review", "-e", "support", "-j", "policy", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # start-up imports the web stack: slow on 2 busy cores
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/queue", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "accord review did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and "Review queue" in response.text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"review page: http://localhost:{port}/" in output


def test_report_is_one_self_contained_file(populated: Populated, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", "-e", "support", "-j", "policy", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "policy v1" in html and "<svg" in html and 'class="confusion"' in html
    assert "<link" not in html and "<script" not in html and "src=" not in html  # nothing to fetch
    assert XSS_OUTPUT not in html
    assert "t007" in html and 'href="/trace/' not in html  # disagreements listed, no links to a server
    assert "Track order 7 online." in html  # with the text judged
    figures = json.loads(
        runner.invoke(app, ["report", "-e", "support", "-j", "policy", "-o", str(out), "--json"]).stdout
    )
    assert figures["versions"][0]["agreement"]["n"] == 12
    assert figures["reviewers"]["reviewers"] == ["ana"]


def test_report_names_an_unknown_experiment(populated: Populated, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "-e", "nope", "-j", "policy", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert "no experiment named 'nope'" in result.output
    assert not (tmp_path / "r.html").exists()
