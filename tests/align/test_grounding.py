"""Grounding: how much of the output is found in the inputs, learned from the experts when it separates."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import numpy as np
import pytest

import accord
from accord.align import MemAlignOptimizer
from accord.align.checks import FittedDecision, grounding
from accord.align.checks.grounding import KEYS, grounding_row
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.errors import AccordError
from accord.judges import make_judge
from accord.llm import fake
from accord.llm.types import ChatRequest, Completion

SOURCES = [
    "The museum opened in 1998 and holds 4,000 paintings by Dutch artists.",
    "Heavy rain closed the mountain road for two days last week.",
    "The company hired 120 engineers and opened an office in Lisbon.",
    "The river flooded the lower town after the dam released water.",
    "The library lends books, maps and films to every resident for free.",
]
ADDED = [
    "Critics call it the finest collection in Europe.",
    "Officials blamed a storm that hit the coast in 2011.",
    "Its founder plans a stock market listing next spring.",
    "Insurers expect claims worth 30 million euros.",
    "The mayor promised longer opening hours next year.",
]


def feature(row: np.ndarray, key: str) -> float:
    return float(row[KEYS.index(key)])


def test_an_output_that_repeats_its_inputs_has_nothing_novel_and_an_addition_shows() -> None:
    source = {"source": SOURCES[0]}
    copied = grounding_row(source, "The museum opened in 1998; it holds 4,000 paintings.")
    assert feature(copied, "novel_words") == 0 and feature(copied, "novel_numbers") == 0
    added = grounding_row(source, "The museum opened in 2003 and holds famous Italian paintings.")
    assert feature(added, "novel_words") > 0.3 and feature(added, "novel_numbers") == 1.0
    assert feature(added, "novel_word_pairs") > feature(copied, "novel_word_pairs")
    assert np.isnan(grounding_row(None, "anything")).all()  # nothing to compare with: missing, imputed later
    assert np.isnan(grounding_row({"source": "text"}, "")).all()


def _summaries(n: int = 30) -> list[Trace]:
    """Summaries that only restate their source ("yes") or add a claim of their own ("no")."""
    expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
    traces = []
    for i in range(n):
        source, faithful = SOURCES[i % 5], i % 2 == 1
        summary = source if faithful else f"{source.split(' and ')[0]}. {ADDED[(i // 2) % 5]}"
        reason = "" if faithful else "Adds a claim the source does not make."
        traces.append(
            Trace(
                trace_id=f"s{i}",
                inputs={"source": f"{source} (document {i})"},
                outputs=summary,
                assessments=[
                    Feedback(name="faithful", value="yes" if faithful else "no", rationale=reason, source=expert)
                ],
            )
        )
    return traces


def _uninformed_model() -> fake.FakeScript:
    """A model that cannot tell: every check and its own task at P(yes) 0.6, whatever the case."""

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the summary adds a claim"}
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": 0.6, "no": 0.4})

    return fake.script("ground", reply)


def _judge() -> Any:
    return make_judge(
        "faithful",
        "Is the summary in {{ outputs }} faithful to {{ inputs }}?",
        model="fake:/ground",
        feedback_value_type=Literal["yes", "no"],
    )


def test_alignment_learns_grounding_when_the_model_cannot_tell(caplog: pytest.LogCaptureFixture) -> None:
    _uninformed_model()
    optimizer = MemAlignOptimizer(embedding_model="hash", show_progress=False, cv_repeats=2)
    with caplog.at_level(logging.DEBUG, logger="accord.align"):
        aligned = _judge().align(_summaries(), optimizer)
    assert aligned.mode == "fitted" and aligned.fitted is not None
    assert aligned.selection["chosen"] in ("shrunk", "checks", "checks+memory")
    report = {g["key"]: g for g in aligned.selection["grounding"]}
    assert report["novel_words"]["kept"] and report["novel_words"]["separation"] >= 0.2
    assert "novel_words" in aligned.fitted.grounding
    assert aligned.checks == []  # the check answered alike for every case separated nothing
    weights = {w["feature"]: w["weight"] for w in aligned.fitted.weights()}
    assert aligned.fitted.classes == ["yes", "no"]
    assert weights["share of the output's words not found in the inputs"] > 0  # towards the second verdict, "no"

    source = "The bridge reopened on Monday after repairs to its cables."
    faithful = aligned(inputs={"source": source}, outputs="The bridge reopened on Monday after repairs.")
    added = "The bridge reopened after engineers replaced rusted steel, costing taxpayers millions."
    invented = aligned(inputs={"source": source}, outputs=added)
    assert (faithful.value, invented.value) == ("yes", "no")
    assert "not found in the inputs" in invented.rationale

    accord.set_experiment("grounding")
    version = aligned.register()
    loaded = accord.registry.get_judge("faithful", version)
    assert loaded.fitted.grounding == aligned.fitted.grounding
    assert loaded(inputs={"source": source}, outputs=added).value == "no"


def test_grounding_that_separates_nothing_is_dropped_and_old_decisions_load_without_it() -> None:
    _uninformed_model()
    traces = _summaries()
    for trace in traces:  # every summary restates its source: nothing novel to tell the labels apart
        trace.outputs = trace.inputs["source"]
    optimizer = MemAlignOptimizer(embedding_model="hash", show_progress=False, cv_repeats=2)
    aligned = _judge().align(traces, optimizer)
    assert not any(g["kept"] for g in aligned.selection["grounding"])
    assert aligned.fitted is None or aligned.fitted.grounding == []

    old = {
        "candidate": "checks",
        "classes": ["no", "yes"],
        "regression": False,
        "uses_judge": False,
        "check_questions": ["q?"],
        "linear": {"mean": [0.5], "scale": [1.0], "coef": [[1.0]], "intercept": [0.0]},
    }
    assert FittedDecision.from_dict(old).grounding == []  # aligned before grounding existed
    with pytest.raises(AccordError, match="unknown grounding"):
        FittedDecision.from_dict({**old, "grounding": ["vibes"]})
    damaged = json.loads(json.dumps({**old, "grounding": ["novel_words"]}))  # a weight short
    with pytest.raises(AccordError, match="damaged"):
        FittedDecision.from_dict(damaged)


def test_inputs_too_short_to_ground_the_output_are_not_weighed() -> None:
    """A short request and a long answer: most of the answer's words are novel whatever its quality, so a
    share that separates the training labels does so by chance and is never weighed."""
    _uninformed_model()
    traces = _summaries()
    for trace in traces:  # a short request; the answers the experts pass happen to echo it, three times over
        request = trace.inputs["source"].split(" (document")[0].split(" and ")[0]
        trace.inputs = {"request": request}
        if trace.assessments[0].value == "yes":
            trace.outputs = " ".join([request] * 3)
        else:
            i = int(trace.trace_id[1:])
            trace.outputs = f"{request}. {ADDED[i % 5]} {ADDED[(i + 1) % 5]}"
    assert grounding.input_share((t.inputs, t.outputs) for t in traces) < grounding.MIN_INPUT_SHARE
    optimizer = MemAlignOptimizer(embedding_model="hash", show_progress=False, cv_repeats=2)
    aligned = _judge().align(traces, optimizer)
    report = {g["key"]: g for g in aligned.selection["grounding"]}
    assert not any(g["kept"] for g in report.values())
    assert "inputs are too short to ground the output" in report["novel_words"]["why"]
    assert aligned.fitted is None or aligned.fitted.grounding == []
