"""The optimizer interface: take a judge and traces with human feedback, return a new judge."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.entities import Trace
    from accord.judges import Judge


class AlignmentError(AccordError):
    """Alignment cannot run: too little usable feedback, or a failure on the way (the input judge is untouched)."""


class AlignmentOptimizer(ABC):
    """Subclass and implement `align`; pass an instance to `judge.align(traces, optimizer)`."""

    @abstractmethod
    def align(self, judge: Judge, traces: Sequence[Trace]) -> Judge:
        """Return a new judge that agrees better with the HUMAN feedback on `traces`; never mutate `judge`."""

    def config(self) -> dict[str, Any]:
        """Settings recorded with the aligned judge."""
        return {"optimizer": type(self).__name__}


def load_optimizer(spec: str | None, **kwargs: Any) -> AlignmentOptimizer:
    """`memalign` (default), `simba`, `gepa`, or `package.module:ClassName` for your own optimizer."""
    name = (spec or "memalign").strip()
    if name.lower() == "memalign":
        from accord.align.memalign import MemAlignOptimizer

        return MemAlignOptimizer(**kwargs)
    if name.lower() in ("simba", "gepa"):
        from accord.align import dspy_optimizers

        cls = dspy_optimizers.SIMBAOptimizer if name.lower() == "simba" else dspy_optimizers.GEPAOptimizer
        return cls(**kwargs)
    module_name, _, class_name = name.partition(":")
    if not class_name:
        raise AlignmentError(f"unknown optimizer {name!r}: use memalign, simba, gepa or package.module:ClassName")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise AlignmentError(f"cannot load optimizer {name!r}: {exc}") from exc
    optimizer = cls(**kwargs)
    if not isinstance(optimizer, AlignmentOptimizer):
        raise AlignmentError(f"{name} is not a subclass of accord.align.AlignmentOptimizer")
    return optimizer
