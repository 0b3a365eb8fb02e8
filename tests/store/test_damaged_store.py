"""A damaged store file: one line naming the file and what to do, and `accord doctor` says what it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.config import reload_settings

runner = CliRunner()


def test_a_store_that_is_not_a_database_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "accord.db"
    broken.write_bytes(b"this is not a database " * 200)
    monkeypatch.setenv("ACCORD_STORE_URI", f"sqlite:///{broken}")
    reload_settings()
    result = runner.invoke(app, ["traces", "list", "--experiment", "x"])
    assert result.exit_code == 1
    assert f"the store {broken} cannot be read (file is not a database)" in result.output
    assert "accord doctor" in result.output and "Traceback" not in result.output
    doctor = runner.invoke(app, ["doctor", "--json"])
    assert doctor.exit_code == 1
    report = json.loads(doctor.stdout)
    assert report["ok"] is False and "file is not a database" in report["problems"][0]
    assert broken.read_bytes().startswith(b"this is not a database")  # nothing was changed


def test_doctor_passes_a_healthy_store() -> None:
    assert runner.invoke(app, ["traces", "list", "--experiment", "x"]).exit_code in (0, 1)  # creates the store
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0 and "integrity check passed" in result.output


def test_a_store_uri_password_is_never_printed_when_the_store_cannot_be_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from accord.cli import app
    from accord.errors import ConfigError
    from accord.store.engine import get_engine

    canary = "S3cretCanary42"
    for uri in (f"postgresql+nosuchdriver://user:{canary}@localhost/db", f"nosuch://user:{canary}@host:5432/db"):
        with pytest.raises(ConfigError) as caught:
            get_engine(uri)
        assert canary not in str(caught.value) and "user:***@" in str(caught.value)
    from accord.config import reload_settings
    from accord.store import _stores

    monkeypatch.setenv("ACCORD_STORE_URI", f"postgresql+nosuchdriver://u:{canary}@h/db")
    reload_settings()
    _stores.clear()
    result = CliRunner().invoke(app, ["traces", "list", "-e", "x"])
    assert result.exit_code == 1 and "cannot open store" in result.output and canary not in result.output
