"""Probe: the demo policy's rules asked word for word, against short questions the reflection model writes from
each rule (one per thing it forbids or requires): each question's AUC for the experts' 'no' over the demo's 100
traces. Measured, not adopted (docs/benchmarks.md).

    python bench/atomic_checks.py --cache DIR
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from _common import home_with_cache, save

SYSTEM = (
    "You turn one rule of a policy into a checklist. List the separate things the rule forbids or requires, "
    "each as one short yes/no question about the answer being graded, asked so that 'yes' means the answer "
    "breaks the rule (for example: 'Does the answer promise a refund?'). One thing per question, at most 4 "
    "questions, concrete words from the rule; no question that needs the rule to be understood."
)


def atomic_questions(rule: str, model: Any) -> list[str]:
    from accord.llm import ChatRequest

    items = {"type": "array", "items": {"type": "string", "maxLength": 160}, "maxItems": 4}
    request = ChatRequest(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Rule: {rule}"}],
        json_schema={"type": "object", "properties": {"questions": items}, "required": ["questions"]},
        max_tokens=320,
        temperature=0.0,
    )
    return [q.strip() for q in json.loads(model.complete(request).text)["questions"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="", help="Keep and reuse the model's answers here.")
    home_with_cache(parser.parse_args().cache)
    from sklearn.metrics import roc_auc_score

    from accord.align.checks.checklist import policy_rules, read_policy
    from accord.align.checks.questions import Check, ask_case
    from accord.demo import DATA, POLICY, demo_judge
    from accord.entities import Trace
    from accord.llm import get_model

    judge = demo_judge("local:/qwen2.5-coder-1.5b")
    rules = policy_rules(read_policy(POLICY)[0])
    written = {rule: atomic_questions(rule, get_model(judge.model)) for rule in rules}
    checks = [Check(f"Does the case break this rule: {rule.rstrip(' .')}?") for rule in rules]
    kinds = ["rule"] * len(checks)
    for questions in written.values():
        checks += [Check(q) for q in questions]
        kinds += ["atomic"] * len(questions)
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    answers, y = [], []
    for row in rows:
        trace = Trace(trace_id=row["trace_id"], inputs=row["inputs"], outputs=row["outputs"])
        found = ask_case(judge, checks, judge.gather(trace=trace), ask_judge=False)
        answers.append([np.nan if p is None else p for p in found.checks])
        y.append(int(row["assessments"][0]["value"] == "no"))
    p_yes, labels = np.array(answers), np.array(y)
    results = []
    for j, (check, kind) in enumerate(zip(checks, kinds, strict=True)):
        known = ~np.isnan(p_yes[:, j])
        auc = roc_auc_score(labels[known], p_yes[known, j])
        results.append({"question": check.question, "kind": kind, "auc_no": round(float(auc), 3)})
    save("atomic_checks", {"traces": len(rows), "written": written, "checks": results})


if __name__ == "__main__":
    main()
