import hashlib
from pathlib import Path

import pytest

from accord.errors import ModelFilesError
from accord.llm import local_files
from accord.llm.local_files import PackagedModel, packaged_model_path, resolve_model_file


def _model(tmp_path: Path, chunks: list[bytes], sha: str | None = None) -> PackagedModel:
    for i, chunk in enumerate(chunks):
        (tmp_path / f"part{i}").write_bytes(chunk)
    whole = b"".join(chunks)
    return PackagedModel(
        alias="toy",
        file_name="toy.gguf",
        parts=tuple((f"toy-part{i}", f"part{i}") for i in range(len(chunks))),
        size=len(whole),
        sha256=sha or hashlib.sha256(whole).hexdigest(),
        install_hint="pip install toy",
    )


def test_parts_are_joined_once_verified_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tmp_path, [b"GGUF", b"-data-", b"end"])
    calls = []

    def fake_part(dist: str, inner: str, _model: PackagedModel) -> Path:
        calls.append(dist)
        return tmp_path / inner

    monkeypatch.setattr(local_files, "_part_path", fake_part)
    path = packaged_model_path(model)
    assert path.read_bytes() == b"GGUF-data-end"
    assert packaged_model_path(model) == path and len(calls) == 3  # second call only checks the cache


def test_corrupt_parts_are_refused_and_leave_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tmp_path, [b"GGUF", b"data"], sha="0" * 64)
    monkeypatch.setattr(local_files, "_part_path", lambda dist, inner, m: tmp_path / inner)
    with pytest.raises(ModelFilesError, match="corrupt"):
        packaged_model_path(model)
    assert not list((Path(local_files.cache_dir()) / "models").glob("toy*"))


def test_missing_part_package_says_how_to_install() -> None:
    model = PackagedModel(
        "toy", "toy.gguf", (("accord-no-such-part", "x.bin"),) * 2, 1, None, "pip install 'accord[local]'"
    )
    with pytest.raises(ModelFilesError, match=r"needs the package accord-no-such-part.*pip install 'accord\[local\]'"):
        packaged_model_path(model)


def test_unknown_local_model_is_a_clear_error() -> None:
    with pytest.raises(ModelFilesError, match="no local model 'nope.gguf'"):
        resolve_model_file("nope.gguf")
