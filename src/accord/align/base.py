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


# The one table of optimizer names: `load_optimizer`, `accord align --optimizer` and the review page read it.
OPTIMIZERS: dict[str, str] = {
    "memalign": "accord.align.memalign:MemAlignOptimizer",
    "simba": "accord.align.dspy_optimizers:SIMBAOptimizer",
    "gepa": "accord.align.dspy_optimizers:GEPAOptimizer",
}


def load_optimizer(spec: str | None, **kwargs: Any) -> AlignmentOptimizer:
    """A name from OPTIMIZERS (`memalign`, the default; `simba`, `gepa`), or `package.module:ClassName` for
    your own optimizer."""
    name = (spec or "memalign").strip()
    target = OPTIMIZERS.get(name.lower(), name)
    module_name, _, class_name = target.partition(":")
    if not class_name:
        known = ", ".join(OPTIMIZERS)
        raise AlignmentError(f"unknown optimizer {name!r}: use {known} or package.module:ClassName")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise AlignmentError(f"cannot load optimizer {name!r}: {exc}") from exc
    optimizer = cls(**kwargs)
    if not isinstance(optimizer, AlignmentOptimizer):
        raise AlignmentError(f"{name} is not a subclass of accord.align.AlignmentOptimizer")
    return optimizer
