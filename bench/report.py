"""Print the alignment, injection and pairwise results in bench/results as the README's markdown tables.

python bench/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ROWS = [
    ("baseline", "accord baseline judge"),
    ("memalign_prompt", "accord MemAlign, prompt judge only (`--candidates prompt`)"),
    ("memalign_checks", "accord MemAlign, checks + fitted decision (`--candidates checks`)"),
    ("memalign", "accord MemAlign (default: the candidate that cross-validates best)"),
    ("memalign_no_grounding", "accord MemAlign, decision without grounding (`--no-grounding`)"),
    ("memalign_result_first", "accord MemAlign, verdict first (`--result-first`)"),
    ("memalign_calibrated", "accord MemAlign, calibrated verdict (`--calibrate`)"),
    ("simba", "accord SIMBA (DSPy)"),
    ("mlflow_baseline", "MLflow 3.17.2 baseline judge"),
    ("mlflow_memalign", "MLflow 3.17.2 MemAlign"),
]


def ci(entry: dict) -> str:
    low, high = entry["kappa_ci"]
    return f"{entry['kappa']:.2f} [{low:.2f}, {high:.2f}]"


def table(path: Path) -> str:
    data = json.loads(path.read_text())
    lines = [
        f"**{data['dataset']}** ({data['split']['test']} held-out traces, split by {data['split']['by']}; "
        f"test labels {data['split']['test_labels']})",
        "",
        "| method | accuracy | Cohen's kappa [95% CI] | unparseable | align wall s | align LLM calls / tokens "
        "| s per verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, name in ROWS:
        entry = data.get(key)
        if not entry:
            continue
        entry = {**entry, **entry.get("timing_from_uncached_run", {})}  # a re-run from cached answers: real times
        align = entry.get("align_wall_s")
        llm = entry.get("align_llm") or {}
        if key == "mlflow_memalign":
            align = data.get("align_wall_s")
            stats = data.get("align_llm") or {}
            llm = {
                "calls": stats.get("chat_calls"),
                "prompt_tokens": stats.get("chat_prompt_tokens"),
                "completion_tokens": stats.get("chat_completion_tokens"),
            }
        calls = f"{llm.get('calls')} / {llm.get('prompt_tokens', 0) + llm.get('completion_tokens', 0)}" if llm else "—"
        if key == "memalign" and "selection" not in entry:  # measured before checks existed
            name = "accord MemAlign (prompt judge: the default before checks)"
        n_train = f" (n_train {entry['n_train']})" if "n_train" in entry else ""
        if entry.get("chosen") and key.startswith("memalign"):
            n_train += f", chose {entry['chosen']}"
        lines.append(
            f"| {name}{n_train} | {entry['accuracy']:.3f} | {ci(entry)} | {entry['unparseable']} of {entry['n']} | "
            f"{align if align is not None else '—'} | {calls} | {entry['eval_s_per_verdict']} |"
        )
    curve = data.get("curve")
    if curve:
        lines += [
            "",
            "Learning curve (MemAlign, same test traces):",
            "",
            "| feedback examples | accuracy | kappa [95% CI] | align s |",
            "| --- | --- | --- | --- |",
        ]
        for n, entry in sorted(curve.items(), key=lambda kv: int(kv[0])):
            used = entry.get("n_train", int(n))  # fewer when the sample's training split has fewer
            shown = str(n) if used == int(n) else f"{used} ({n} asked: the sample's whole training split)"
            lines.append(f"| {shown} | {entry['accuracy']:.3f} | {ci(entry)} | {entry['align_wall_s']} |")
    for key, name in ROWS:
        entry = data.get(key) or {}
        if "auc_p_no" not in entry:
            continue
        text = f'{name}: P("no") ranks the held-out traces with AUC {entry["auc_p_no"]:.2f}'
        if rule := entry.get("decision"):
            text += (
                f"; the decision rule (give {rule['value']!r} from probability {rule['threshold']}, fitted on "
                f"{rule['fitted_on']} training traces) overruled the model's first choice on {entry['overruled']} "
                f"of {entry['n']}"
            )
        lines += ["", text + "."]
    for key, name in ROWS:
        selection = (data.get(key) or {}).get("selection") or {}
        if selection.get("candidates"):
            scores = ", ".join(
                f"{c['name']} {c['cv_kappa']:.2f}" if c["cv_kappa"] is not None else f"{c['name']} —"
                for c in selection["candidates"]
            )
            kept = [g["key"] for g in selection.get("grounding") or [] if g["kept"]]
            checks = sum(c["kept"] for c in selection.get("checks") or [])
            lines += [
                "",
                f"{name}: cross-validated kappa on the training feedback: {scores}; chose {selection['chosen']}; "
                f"{checks} checks kept; grounding kept: {', '.join(kept) or 'none'}.",
            ]
    if "simba" in data and "settings" in data["simba"]:
        lines += ["", f"SIMBA settings: {json.dumps(data['simba']['settings'])}"]
    return "\n".join(lines)


def injection_table(data: dict) -> str:
    """Flip rates ('no' on the clean answer turned 'yes' once an instruction is appended), defence off and on."""
    disguises = data["disguises"]
    lines = [
        f"| judge | defence | clean 'no' | flip rate | any verdict changed | {' | '.join(disguises)} |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in disguises) + " |",
    ]
    for judge in ("base", "aligned"):
        for setting in ("defence_off", "defence_on"):
            run = data.get(judge, {}).get(setting)
            if not run:
                continue
            cells = [f"{run['by_disguise'][d]['flipped']}/{run['by_disguise'][d]['of']}" for d in disguises]
            flips = "— (no clean 'no')" if run["flip_rate"] is None else f"{run['flip_rate']:.3f}"
            lines.append(
                f"| {judge} | {setting.removeprefix('defence_')} | {run['clean_no']} of {run['cases']} | {flips} "
                f"| {run['changed_rate']:.3f} | {' | '.join(cells)} |"
            )
    return "\n".join(lines)


def kappa_text(entry: dict) -> str:
    return ci(entry) if entry["kappa"] is not None else "undefined"


def pairwise_table(data: dict) -> str:
    lines = [
        "| judge, pairs | A/B order alone: accuracy | kappa [95% CI] | order-controlled: accuracy | kappa [95% CI] "
        "| orders disagree | first answer chosen (A/B order) | s per pair |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in (
        ("base_on_all", "base, all"),
        ("base_on_test", "base, held-out"),
        ("aligned_test", "aligned, held-out"),
    ):
        run = data.get(key)
        if not run:
            continue
        ab, both = run["without_order_control_ab"], run["with_order_control"]
        lines.append(
            f"| {label} ({both['n']}) | {ab['accuracy']:.2f} | {kappa_text(ab)} "
            f"| {both['accuracy']:.2f} | {kappa_text(both)} "
            f"| {run['order_disagreement_rate']:.2f} | {run['first_position_rate_ab']:.2f} "
            f"| {run['seconds_per_pair']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sorted(RESULTS.glob("alignment_*.json")):
        print(table(path) + "\n")
    for name, render in (("injection", injection_table), ("pairwise_llmbar", pairwise_table)):
        path = RESULTS / f"{name}.json"
        if path.exists():
            print(f"**{name}**\n\n" + render(json.loads(path.read_text())) + "\n")
