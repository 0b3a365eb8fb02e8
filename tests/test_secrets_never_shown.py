"""Secrets come from the environment and are never shown: with canary keys set, a whole session of commands
(import, judging on a hosted model that really receives the key, evaluation, listings, a report, an export)
prints none of them, logs none of them at DEBUG, and writes none of them into the store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.config import reload_settings
from accord.llm import model
from accord.llm.stub_server import StubServer
from accord.store import get_store
from tests.conftest import trace_row, write_jsonl

CANARIES = {
    "OPENAI_API_KEY": "sk-canary-openai-0123456789",
    "ANTHROPIC_API_KEY": "sk-ant-canary-0123456789",
    "ACCORD_REVIEW_TOKEN": "canary-review-token-0123456789",
}


def test_canary_keys_appear_in_no_output_no_log_and_not_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    rows = [trace_row(i) for i in range(6)]
    for i, row in enumerate(rows):
        row["assessments"] = [{"name": "quality", "value": "yes" if i % 2 else "no", "source": {"type": "HUMAN"}}]
    source = write_jsonl(tmp_path / "t.jsonl", rows)
    with StubServer() as server:
        monkeypatch.setenv("ACCORD_TRUSTED_BASE_URLS", server.base_url)  # the key really goes to this server
        reload_settings()
        model.forget_models()
        spec = tmp_path / "judge.yaml"
        spec.write_text(
            "name: quality\ninstructions: 'Is {{ outputs }} right?'\n"
            f"model: 'openai:/stub?base_url={server.base_url}'\nfeedback_value_type: Literal['yes', 'no']\n"
        )
        commands = [
            ["traces", "import", str(source), "-e", "canary"],
            ["judges", "create", str(spec), "-e", "canary"],
            ["judges", "run", "-j", "quality", "-e", "canary"],
            ["evaluate", "-j", "quality", "-e", "canary", "--json"],
            ["judges", "show", "quality"],
            ["judges", "list"],
            ["traces", "list", "-e", "canary"],
            ["feedback", "list", "-e", "canary"],
            ["report", "-j", "quality", "-e", "canary", "-o", str(tmp_path / "report.html")],
            ["traces", "export", "-e", "canary", "-o", str(tmp_path / "out.jsonl")],
        ]
        outputs = []
        for command in commands:
            result = runner.invoke(app, command)
            outputs.append(result.output)
            assert result.exit_code == 0, (command, result.output)
        assert any(CANARIES["OPENAI_API_KEY"] in a for a in server.authorizations)  # it was really used
    written = [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.suffix in (".html", ".jsonl")]
    store_file = Path(get_store().engine.url.database or "")
    assert store_file.is_file() and len(written) == 3 and "LiteLLM" in caplog.text  # what is searched is there
    stored = store_file.read_bytes().decode("latin-1")
    for name, value in CANARIES.items():
        assert not any(value in text for text in outputs), f"{name} printed"
        assert value not in caplog.text, f"{name} logged"
        assert not any(value in text for text in written), f"{name} written to a file"
        assert value not in stored, f"{name} stored"
