"""Checks from the task, before any feedback: the judge's instructions and a written policy become yes/no
questions, each about one criterion the experts apply.

Checks distilled from feedback often name one case ("the summary describes Myles, not Anderson"); a check per
written rule applies to every case. RocketEval (ICLR 2025) writes its checklist from the instruction before
any label and lets labels reweight the items; LLM-Rubric asks fixed rubric questions. Here:
- a policy's numbered rules (else its bullet items, else its sentences) become one check each, word for word:
  no model call, nothing a small model can garble;
- the instructions' criteria ("helpful, accurate, polite and compliant") become one check each, written by the
  reflection model as short questions and kept only when they are questions about the case; when it gives
  none, the instructions' sentences that state a criterion are used.
The fitted decision then weighs, keeps or drops them by the experts' labels like any other check.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from accord.align.base import AlignmentError
from accord.align.checks.questions import Check
from accord.errors import ModelError
from accord.judges.base import TEMPLATE_VARIABLE, Judge
from accord.llm import ChatRequest, get_model

log = logging.getLogger("accord.align")

MAX_POLICY_CHARS = 200_000
RULE_CHARS = 400  # a longer rule is cut at a sentence end, so the question stays one rule
MAX_TASK_CHECKS = 6
_NUMBERED = re.compile(r"^\s*(?:\d{1,3}|[a-zA-Z])[.)]\s+(?P<text>\S.*)$")
_BULLET = re.compile(r"^\s*[-*+\u2022]\s+(?P<text>\S.*)$")
_HEADING = re.compile(r"^\s*(#{1,6}\s|={3,}|-{3,}$)")
_FORMAT_ONLY = re.compile(
    r"\b(answer|respond|reply|return|output|format|json)\b.*\b(yes|no|true|false|json|only)\b", re.I
)
_SUFFIXES = {".md", ".txt", ".rst", ".markdown", ".text"}


def read_policy(policy: str | Path) -> tuple[str, str]:
    """The policy's text and where it came from: a `Path`, or a string naming a file (one line ending in
    .md/.txt/.rst, or an existing file), is read; any other string is the policy itself. A missing, empty or
    non-text file is a clear error naming it."""
    path: Path | None = None
    if isinstance(policy, Path):
        path = policy
    elif isinstance(policy, str):
        single = "\n" not in policy and len(policy) < 1024
        if single and (Path(policy).expanduser().is_file() or Path(policy.strip()).suffix.lower() in _SUFFIXES):
            path = Path(policy.strip()).expanduser()
    else:
        raise AlignmentError(f"policy must be text or a file path, not {type(policy).__name__}")
    if path is None:
        text, origin = str(policy), "the policy text given"
    else:
        origin = f"policy file {str(path)!r}"
        if not path.is_file():
            raise AlignmentError(f"{origin} does not exist (or is not a file)")
        data = path.read_bytes()[: MAX_POLICY_CHARS * 4]
        if b"\x00" in data:
            raise AlignmentError(f"{origin} is not text (it holds NUL bytes)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AlignmentError(f"{origin} is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise AlignmentError(f"{origin} is empty")
    return text[:MAX_POLICY_CHARS], origin


def _items(lines: list[str], pattern: re.Pattern[str]) -> list[str]:
    """Items matched by `pattern`, each with its continuation lines (indented or plain text up to the next
    item, blank line or heading)."""
    items: list[list[str]] = []
    open_item = False
    for line in lines:
        match = pattern.match(line)
        if match:
            items.append([match["text"].strip()])
            open_item = True
        elif not line.strip() or _HEADING.match(line) or _BULLET.match(line) or _NUMBERED.match(line):
            open_item = False
        elif open_item:
            items[-1].append(line.strip())
    return [" ".join(parts) for parts in items]


def _clip_rule(text: str) -> str:
    text = " ".join(text.split()).strip()
    if len(text) <= RULE_CHARS:
        return text
    cut = text[:RULE_CHARS]
    end = cut.rfind(". ")  # a sentence end, else a clause end
    end = end if end > RULE_CHARS // 3 else cut.rfind("; ")
    return cut[: end + 1] if end > RULE_CHARS // 3 else cut.rsplit(" ", 1)[0] + " ..."


def policy_rules(text: str) -> list[str]:
    """The rules a policy states: its numbered items when it has some, else its bullet items, else its
    sentences; markup dropped, each cut to one narrow rule."""
    lines = text.splitlines()
    found = _items(lines, _NUMBERED) or _items(lines, _BULLET)
    if not found:
        prose = " ".join(line.strip() for line in lines if line.strip() and not _HEADING.match(line))
        found = [s for s in re.split(r"(?<=[.!?])\s+", prose) if len(s.split()) >= 4]
    rules = []
    for rule in found:
        rule = re.sub(r"[*_`]{1,3}", "", rule).strip()
        if len(rule.split()) >= 3:
            rules.append(_clip_rule(rule))
    return list(dict.fromkeys(rules))


def policy_checks(policy: str | Path) -> tuple[list[Check], str]:
    """One check per rule of the policy, and where the policy came from."""
    text, origin = read_policy(policy)
    rules = policy_rules(text)
    if not rules:
        raise AlignmentError(f"{origin} states no rule (no numbered or bulleted items and no sentences)")
    checks = [Check(f"Does the case break this rule: {rule.rstrip(' .')}?", origin="policy") for rule in rules]
    return checks, origin


def _task_text(judge: Judge) -> str:
    static = judge.static_sections()
    return " ".join(TEMPLATE_VARIABLE.sub(lambda m: static.get(m.group(1), m.group(1)), judge.instructions).split())


def _checklist_request(task: str) -> ChatRequest:
    system = (
        "You write a checklist for grading. Given a grading task, list the separate criteria it names, each as "
        "one short yes/no question about the case (for example: 'Is the answer polite?'). One criterion per "
        f"question, at most {MAX_TASK_CHECKS} questions, in the task's own terms; no question that only "
        "restates the whole task."
    )
    return ChatRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": f"Task: {task}"}],
        json_schema={
            "type": "object",
            "properties": {
                "questions": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 160},
                    "maxItems": MAX_TASK_CHECKS,
                }
            },
            "required": ["questions"],
        },
        max_tokens=320,
        temperature=0.0,
    )


def _usable_question(text: Any, task: str) -> str | None:
    if not isinstance(text, str):
        return None
    text = " ".join(text.split()).strip(" -*")
    if not text.endswith("?") or not 3 <= len(text.split()) <= 30 or re.search(r"[<>{}]", text):
        return None
    if text.lower().rstrip("?") in task.lower():
        return None  # the task's own words back
    return text


def _criteria_sentences(task: str) -> list[str]:
    """The task's sentences that state a criterion (not the output format), as questions."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", task) if s.strip()]
    kept = [
        s.rstrip(" .")
        for s in sentences
        if len(s.split()) >= 4
        and not _FORMAT_ONLY.search(s)
        and sum(len(word) >= 4 for word in re.findall(r"[^\W\d_]+", s)) >= 2  # not "A, B or tie."
    ]
    return [f"Does the case meet this criterion: {s}?" for s in kept[1:]] if len(kept) > 1 else []


def instruction_checks(judge: Judge, model_uri: str | None = None) -> list[Check]:
    """The criteria the judge's instructions name, one check each (see the module's docstring)."""
    task = _task_text(judge)
    questions: list[str] = []
    try:
        completion = get_model(model_uri or judge.model).complete(_checklist_request(task))
        data = json.loads(completion.text)
        raw = data.get("questions") if isinstance(data, dict) else None
        questions = [q for q in (_usable_question(x, task) for x in raw or []) if q]
    except (ModelError, ValueError, json.JSONDecodeError) as exc:
        log.info("no checklist from the instructions (%s); using their sentences", exc)
    if not questions:
        questions = _criteria_sentences(task)
    unique = list(dict.fromkeys(questions))[:MAX_TASK_CHECKS]
    return [Check(q, origin="instructions") for q in unique]
