"""MemAlign's two memories: guidelines (semantic) and labelled examples with their vectors (episodic)."""

from __future__ import annotations

import ast
import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.judges.rendering import clip, render_value

if TYPE_CHECKING:
    from accord.entities import Trace

_SENTENCE = re.compile(r"^verdict (?P<verdict>.+?) when: (?P<text>.+)$", re.S)

EMBED_FIELDS = ("outputs", "inputs", "both")


def example_text(inputs: Any, outputs: Any, expectations: Any, embed: str) -> str:
    """What gets embedded, for stored examples and for the case being judged alike."""
    out = render_value(outputs, 1200)
    inp = render_value(inputs, 1200)
    if embed == "outputs":
        return out
    if embed == "inputs":
        return inp
    return f"{out}\n{inp}"  # outputs first: the embedder truncates, and outputs carry most verdicts


def memory_text(trace: Trace, embed: str) -> str:
    """`example_text` of a stored trace: what the memory embeds, and whose words it reads."""
    return example_text(trace.inputs, trace.outputs, trace.expectations, embed)


def render_example(inputs: Any, outputs: Any, value: Any, rationale: str) -> str:
    """Compact: the lesson is in the output, the verdict and the reason, not in a whole source document."""
    reason = f" Reason: {clip(' '.join(rationale.split()), 200)}" if rationale else ""
    return (
        f"Input: {clip(' '.join(render_value(inputs).split()), 200)}\n"
        f"Output: {clip(' '.join(render_value(outputs).split()), 350)}\n"
        f"Expert verdict: {value!r}.{reason}"
    )


def retrieved_cases(found: list[tuple[Any, float]]) -> list[dict[str, Any]]:
    """Retrieved examples as a verdict's metadata records them: which trace, the expert's label, how similar."""
    return [{"trace_id": e.trace_id, "value": e.value, "similarity": round(s, 3)} for e, s in found]


def fingerprint(value: Any, rationale: str, rendered: str) -> str:
    return hashlib.sha256(f"{value!r}\x00{rationale}\x00{rendered}".encode()).hexdigest()[:16]


@dataclass
class Guideline:
    text: str
    sources: list[str] = field(default_factory=list)  # ids of the traces it was distilled from
    verdict: Any = None  # the verdict the condition leads to; None for a free-standing rule
    # an expert's reason kept as it is (no rule could be distilled): shown in the prompt, never asked as a check
    from_reason: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {"text": self.text, "sources": list(self.sources), "verdict": self.verdict}
        if self.from_reason:
            data["from_reason"] = True
        return data

    def sentence(self) -> str:
        """Readable on its own: "verdict 'no' when: promises a refund"."""
        return self.text if self.verdict is None else f"verdict {self.verdict!r} when: {self.text}"

    @classmethod
    def from_sentence(cls, sentence: str) -> Guideline:
        """The inverse of `sentence()`, for guidelines edited as text."""
        match = _SENTENCE.match(sentence.strip())
        if match:
            try:
                return cls(match["text"].strip(), verdict=ast.literal_eval(match["verdict"]))
            except (ValueError, SyntaxError):
                pass
        return cls(sentence.strip())


@dataclass
class Example:
    trace_id: str
    value: Any
    rationale: str
    rendered: str  # what the judge is shown: the part that carries the lesson, compactly
    fingerprint: str  # changes when the label or rationale changes (incremental alignment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "value": self.value,
            "rationale": self.rationale,
            "rendered": self.rendered,
            "fingerprint": self.fingerprint,
        }


def encode_vectors(vectors: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    return {"dtype": "float32", "shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode()}


def decode_vectors(blob: dict[str, Any]) -> np.ndarray:
    if blob.get("dtype") != "float32":
        raise ValueError(f"unsupported vector dtype {blob.get('dtype')!r}")
    raw = base64.b64decode(blob["data"])
    return np.frombuffer(raw, dtype=np.float32).reshape(blob["shape"]).copy()


class EpisodicMemory:
    """Examples and one unit vector each; search is one matrix-vector product and a partial sort (exact)."""

    def __init__(self, examples: list[Example] | None = None, vectors: np.ndarray | None = None) -> None:
        self.examples: list[Example] = list(examples or [])
        dim = vectors.shape[1] if vectors is not None and vectors.ndim == 2 else 0
        self.vectors = vectors if vectors is not None else np.zeros((0, dim), dtype=np.float32)
        if len(self.examples) != len(self.vectors):
            raise ValueError(f"{len(self.examples)} examples but {len(self.vectors)} vectors")

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def digest(self) -> str:
        """Identifies the contents; computed once, since a memory is never changed in place."""
        if not hasattr(self, "_digest"):
            joined = "\x00".join(f"{e.trace_id}:{e.fingerprint}" for e in self.examples)
            self._digest = hashlib.sha256(joined.encode()).hexdigest()[:16]
        return self._digest

    def ids(self) -> set[str]:
        return {e.trace_id for e in self.examples}

    def by_id(self) -> dict[str, Example]:
        return {e.trace_id: e for e in self.examples}

    def with_examples(self, examples: list[Example], vectors: np.ndarray) -> EpisodicMemory:
        """A new memory with these examples added (replacing any with the same trace id)."""
        replaced = {e.trace_id for e in examples}
        keep = [i for i, e in enumerate(self.examples) if e.trace_id not in replaced]
        kept_vectors = self.vectors[keep] if len(self.vectors) else np.zeros((0, vectors.shape[1]), np.float32)
        return EpisodicMemory(
            [self.examples[i] for i in keep] + list(examples),
            np.concatenate([kept_vectors, vectors]).astype(np.float32),
        )

    def without(self, trace_ids: set[str]) -> EpisodicMemory:
        keep = [i for i, e in enumerate(self.examples) if e.trace_id not in trace_ids]
        return EpisodicMemory([self.examples[i] for i in keep], self.vectors[keep])

    def search(self, query: np.ndarray, k: int, exclude: set[str] | None = None) -> list[tuple[Example, float]]:
        """The k most similar examples, most similar first (never the trace being judged itself)."""
        if not len(self.examples) or k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        rows, scores = np.arange(len(self.examples)), self.vectors @ query
        want = min(len(scores), k + len(exclude or ()))
        top = np.argpartition(-scores, want - 1)[:want] if want < len(scores) else np.arange(len(scores))
        ranked = top[np.argsort(-scores[top], kind="stable")]
        skip = exclude or set()
        found = [
            (self.examples[rows[i]], float(scores[i])) for i in ranked if self.examples[rows[i]].trace_id not in skip
        ]
        return found[:k]

    def to_dict(self) -> dict[str, Any]:
        return {"examples": [e.to_dict() for e in self.examples], "vectors": encode_vectors(self.vectors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodicMemory:
        return cls([Example(**e) for e in data["examples"]], decode_vectors(data["vectors"]))
