"""The labelled datasets the benchmarks read, and the judge each one starts from. Importing this sets nothing
up: each benchmark chooses its own store and cache first."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LLMBAR = SHARED / "data" / "llmbar_natural.jsonl"
PAIR_NAME = "pairwise_preference"
DATASETS: dict[str, dict[str, Any]] = {
    "support": {
        "file": None,  # the demo's data, packaged with accord
        "name": "policy_compliant",
        "input_key": "question",
        "instructions": None,  # the demo judge's
    },
    "faithbench": {
        "file": "faithbench_dev.jsonl",
        "name": "faithful",
        "input_key": "source",
        # the comparator's own instructions, word for word, so both judges start from the same prompt
        "instructions": (
            "Decide whether the summary in {{ outputs }} is faithful to the source document in {{ inputs }}: "
            "every claim in the summary must be supported by the source. Answer 'yes' if faithful, 'no' if it "
            "contains any unsupported or contradicted information."
        ),
    },
    "halueval": {
        "file": "halueval_general.jsonl",
        "name": "hallucination_free",
        "input_key": "query",
        "instructions": (
            "Decide whether the response in {{ outputs }} to the user's request in {{ inputs }} is free of "
            "hallucination: every factual claim in it must be true. Answer 'yes' if it is hallucination-free, "
            "'no' if it contains any false, invented or unsupported information."
        ),
    },
}


def label(row: dict[str, Any]) -> str:
    return row["assessments"][0]["value"]


def stratified_prefix(rows: list[Any], n: int, label_of: Callable[[Any], str] = label) -> list[Any]:
    """The first n rows (or traces, with their `label_of`), keeping the label mix of the whole list (so small
    training sets are not one-sided)."""
    by_label: dict[str, list] = defaultdict(list)
    for row in rows:
        by_label[label_of(row)].append(row)
    out: list[Any] = []
    for members in by_label.values():
        out += members[: max(1, round(n * len(members) / len(rows)))]
    return out[:n] if len(out) >= n else out


def dataset_rows(dataset: str) -> list[dict[str, Any]]:
    """The rows of a dataset in accord's JSONL form (support: the demo's, packaged with accord)."""
    if dataset == "support":
        from accord.demo import DATA

        return [json.loads(line) for line in DATA.read_text().splitlines()]
    if dataset == "llmbar":
        return pair_rows()
    return [json.loads(line) for line in (SHARED / "data" / DATASETS[dataset]["file"]).read_text().splitlines()]


def dataset_instructions(dataset: str) -> str:
    if dataset == "support":
        from accord.demo import GENERIC_INSTRUCTIONS

        return GENERIC_INSTRUCTIONS
    return DATASETS[dataset]["instructions"]


def pair_rows() -> list[dict[str, Any]]:
    """LLMBar rows in accord's pair form: response_1/2 as response_a/b, better_response 1/2 as A/B."""
    rows = []
    for line in LLMBAR.read_text().splitlines():
        row = json.loads(line)
        label = row["assessments"][0]["value"]
        rows.append(
            {
                "trace_id": row["trace_id"],
                "inputs": row["inputs"],
                "response_a": row["outputs"]["response_1"],
                "response_b": row["outputs"]["response_2"],
                "assessments": [
                    {
                        "name": PAIR_NAME,
                        "value": {"1": "A", "2": "B"}[str(label)],
                        "source": {"type": "HUMAN", "id": "llmbar"},
                    }
                ],
            }
        )
    return rows


def import_rows(rows: list[dict[str, Any]], experiment: str) -> list[Any]:
    """The rows imported into the benchmark's store (fresh ids, the row's id kept as a tag), oldest first."""
    import os

    import accord
    from accord.store import get_store

    path = Path(os.environ["ACCORD_HOME"]) / f"{experiment}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = accord.import_traces(path, experiment, on_conflict="new-ids")
    store = get_store()
    return store.get_traces(store.search_trace_ids([report.experiment_id], newest_first=False))


def support_split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo's own split of its rows: the same 40 test traces as `accord demo`."""
    import time

    from accord.demo import demo_split

    train, test = demo_split(import_rows(rows, f"split-{time.time_ns()}"), 40)
    by_id = {r["trace_id"]: r for r in rows}
    return [by_id[t.tags["source_trace_id"]] for t in train], [by_id[t.tags["source_trace_id"]] for t in test]
