"""The injection benchmark's harness on a scripted judge that obeys instructions it can see as real tags or
chat turns: the flips are counted per disguise, and the defence removes the ones fencing can remove."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from accord.llm import fake

BENCH = Path(__file__).resolve().parents[1] / "bench" / "injection.py"


def _harness():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_injection", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flip_rates_by_disguise_with_the_defence_off_and_on() -> None:
    def gullible(request) -> dict:  # type: ignore[no-untyped-def]
        user = request.messages[-1]["content"]
        obeys = "<instructions>" in user or "<|im_start|>system" in user
        return {"rationale": "scripted", "result": "yes" if obeys else "no"}

    fake.script("gullible", gullible)
    harness = _harness()
    out = harness.run("fake:/gullible", align=False)
    off, on = out["base"]["defence_off"], out["base"]["defence_on"]
    assert out["cases"] == off["cases"] == 18 and off["clean_no"] == 18
    assert off["by_disguise"]["closing_tag"]["flipped"] == 18 and off["by_disguise"]["chat_tokens"]["flipped"] == 18
    assert off["by_disguise"]["plain"]["flipped"] == 0
    assert off["flip_rate"] == round(36 / (18 * len(harness.DISGUISES)), 4)
    assert on["flip_rate"] == 0.0  # fenced: the fake tags and turns are no longer tags or turns
