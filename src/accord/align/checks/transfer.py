"""Checks that transfer: a distilled condition must be a rule over any case, not a description of one.

A condition that names an entity, a number or a quoted phrase found in its own source traces and almost
nowhere else ("the summary describes Myles, not Anderson") cannot fire on a new case. Such a condition is
sent back to the reflection model once, to be written as the rule behind it; if the rewrite still names
the case (or the model cannot give one), the condition is dropped. Measured afterwards too: a kept check's
report says how often it fires on training traces outside its sources.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from accord.errors import ModelError
from accord.judges.rendering import render_value
from accord.llm import ChatRequest, get_model

log = logging.getLogger("accord.align")

RARE_ELSEWHERE = 0.1  # a term found in fewer than this share of the other training traces names the case
_NUMBER = re.compile(r"(?<![\w.])[$£€]?\d[\d,]*(?:\.\d+)?%?(?![\w])")
_QUOTED = re.compile(r"[\"\u201c\u2018]([^\"\u201d\u2019]{3,80})[\"\u201d\u2019]|(?<!\w)'([^']{3,80})'(?!\w)")
_CAPITALISED = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][a-z]{2,}\w*(?:\s+[A-Z][a-z]{2,}\w*)*)\b")
# words that are capitalised for other reasons than naming something
_COMMON = {"The", "This", "That", "These", "Those", "When", "If", "It", "Its", "An", "And", "Or", "But", "Not", "No"}
_NUMBERED_RULE = re.compile(r"\b(rule|step|section|point|item)\s+\d+\b", re.I)


def case_terms(condition: str) -> list[str]:
    """The terms of a condition that could name one case: numbers, quoted phrases and capitalised names
    (not the first word of a sentence). "rule 6"-style references are not terms: they name the policy."""
    text = _NUMBERED_RULE.sub(" ", condition)
    terms = [m.group(0) for m in _NUMBER.finditer(text)]
    terms += [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]
    terms += [m.group(1) for m in _CAPITALISED.finditer(text) if m.group(1).split()[0] not in _COMMON]
    return list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))


def trace_text(inputs: object, outputs: object) -> str:
    return f"{render_value(inputs, 20_000)}\n{render_value(outputs, 20_000)}".lower()


@dataclass
class Specificity:
    """Which terms tie a condition to its source traces, and how often each is found elsewhere."""

    terms: dict[str, float]  # term -> share of the other training traces that contain it

    @property
    def names_one_case(self) -> bool:
        return bool(self.terms)

    def describe(self) -> str:
        return ", ".join(f"{t!r} (in {share:.0%} of other traces)" for t, share in self.terms.items())


def specificity(condition: str, source_texts: Sequence[str], other_texts: Sequence[str]) -> Specificity:
    """The condition's terms that are found in its sources but in fewer than RARE_ELSEWHERE of the other
    traces. A term found in no source is not counted: it came from the expert's words, not from the case."""
    found: dict[str, float] = {}
    for term in case_terms(condition):
        needle = term.lower()
        if not any(needle in text for text in source_texts):
            continue
        share = sum(needle in text for text in other_texts) / max(1, len(other_texts))
        if share < RARE_ELSEWHERE:
            found[term] = share
    return Specificity(found)


def _rewrite_request(condition: str, task: str) -> ChatRequest:
    system = (
        "You turn a note about one graded case into a general rule. The grading task: "
        f"{task}\nRewrite the condition so that it applies to any case: name the kind of problem or quality, "
        "not the people, places, numbers or quoted words of this case, and not what else happened in this case. "
        "Give a short phrase about the output."
    )
    return ChatRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": f"Condition: {condition}"}],
        json_schema={
            "type": "object",
            "properties": {"condition": {"type": "string", "maxLength": 220}},
            "required": ["condition"],
        },
        max_tokens=120,
        temperature=0.0,
    )


def _rewrite(condition: str, task: str, model_uri: str) -> tuple[str, str]:
    """The reflection model's rule behind `condition`, and what went wrong ("" when nothing did)."""
    try:
        completion = get_model(model_uri).complete(_rewrite_request(condition, task))
        data = json.loads(completion.text)
    except (ModelError, ValueError, json.JSONDecodeError) as exc:
        return "", str(exc)
    return (" ".join(str(data.get("condition", "")).split()).rstrip(".") if isinstance(data, dict) else ""), ""


def generalise(
    condition: str, task: str, model_uri: str, source_texts: Sequence[str], other_texts: Sequence[str]
) -> tuple[str | None, str]:
    """The condition as a rule over any case (itself when it already is one), or None; and what was done."""
    found = specificity(condition, source_texts, other_texts)
    if not found.names_one_case:
        return condition, ""
    rewritten, failure = _rewrite(condition, task, model_uri)
    if failure:
        return None, f"names one case ({found.describe()}); no rewrite ({failure})"
    again = specificity(rewritten, source_texts, other_texts) if rewritten else found
    if len(rewritten) < 12 or again.names_one_case:
        return None, f"names one case ({found.describe()}); the rewrite {rewritten!r} still does"
    log.debug("rewrote %r as %r", condition, rewritten)
    return rewritten, f"rewritten: it named one case ({found.describe()})"


def same_words(a: str, b: str, at_least: float = 0.8) -> bool:
    """Whether two texts share at least this share of their words (Jaccard): a reason copied back, perhaps
    without its "(rule 2)"."""
    first, second = (set(re.sub(r"[^\w\s]", " ", t.lower()).split()) for t in (a, b))
    return bool(first and second) and len(first & second) / len(first | second) >= at_least


def rule_from_reason(reason: str, task: str, model_uri: str) -> tuple[str | None, str]:
    """An expert's reason (kept as written when no rule was distilled, or copied back as the "rule") is never
    asked as it is: the reflection model writes the rule behind it once; a rewrite that is still the reason,
    or none, drops it. Returns the rule or None, and what was done."""
    rewritten, failure = _rewrite(reason, task, model_uri)
    if failure:
        return None, f"an expert's reason as written, not a rule; no rewrite ({failure})"
    if len(rewritten) < 12 or same_words(rewritten, reason):
        return None, f"an expert's reason as written, not a rule; the rewrite {rewritten!r} is still the reason"
    return rewritten, "rewritten: it was an expert's reason as written"
