"""Alignment benchmark: baseline judge vs MemAlign vs SIMBA vs MLflow 3.17.2's MemAlign, same rows, same
embedded model, agreement measured on held-out traces the alignment never saw.

    python bench/alignment.py --dataset faithbench --methods baseline,memalign,mlflow --n-train 60 --n-test 50
    python bench/alignment.py --dataset halueval --methods baseline,memalign,simba --n-test 60
    python bench/alignment.py --dataset faithbench --curve 10,25,50,100,200 --n-test 50
    python bench/alignment.py --dataset support --methods baseline,memalign --candidates prompt

support is the demo's data with the demo's own 60/40 split. --candidates picks the aligned judges MemAlign
cross-validates (default: all but prompt; "prompt" alone is MemAlign's prompt judge as in MLflow); the result
key names them (memalign_prompt, memalign_checks, ...), and plain "memalign" is the default, chosen judge.

faithbench is split by source document (no source in both train and test); halueval is a stratified
sample (--sample rows) split stratified by label. Results are merged into
bench/results/alignment_<dataset>.json, one entry per method, so methods can run in separate processes.
The MLflow comparator needs ../shared/bench/mlflow_memalign/setup.sh RUN first (--mlflow-run RUN).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from _common import RESULTS, isolated_home
from _datasets import DATASETS, ROOT, SHARED, import_rows, label, stratified_prefix, support_split


def _cache_argument() -> str:
    """--cache DIR, read before accord is imported (its settings are read once)."""
    for i, arg in enumerate(sys.argv):
        if arg == "--cache" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--cache="):
            return arg.split("=", 1)[1]
    return ""


isolated_home(keep_cache=False)
if _cache_argument():  # answers kept in DIR and reused: a re-run after a change to the decision only
    os.environ["ACCORD_CACHE_DIR"] = str(Path(_cache_argument()).resolve())  # recomputes what changed
else:
    os.environ["ACCORD_NO_CACHE"] = "1"  # every verdict and reflection call is really computed

import accord  # noqa: E402
from accord.align import MemAlignOptimizer  # noqa: E402
from accord.judges import make_judge  # noqa: E402
from accord.llm import get_model  # noqa: E402
from accord.metrics import agreement, human_label  # noqa: E402


def split(dataset: str, rows: list[dict[str, Any]], sample: int, seed: int) -> tuple[list, list]:
    rng = random.Random(seed)
    if dataset == "support":  # the demo's split: the same 40 test traces as `accord demo`
        return support_split(rows)
    if dataset == "faithbench":  # by source document, so retrieval can't find the test document itself
        groups: dict[str, list] = defaultdict(list)
        for row in rows:
            groups[row["inputs"]["source"]].append(row)
        keys = sorted(groups)
        rng.shuffle(keys)
        cut = round(len(keys) * 0.6)
        train = [r for k in keys[:cut] for r in groups[k]]
        test = [r for k in keys[cut:] for r in groups[k]]
    else:
        by_label: dict[str, list] = defaultdict(list)
        for row in rows:
            by_label[label(row)].append(row)
        picked = []
        for _value, members in sorted(by_label.items()):
            rng.shuffle(members)
            picked += members[: round(sample * len(members) / len(rows))]
        rng.shuffle(picked)
        cut = round(len(picked) * 0.6)
        train, test = picked[:cut], picked[cut:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def usage_delta(model_uri: str, before: dict[str, float]) -> dict[str, float]:
    usage = get_model(model_uri).usage
    now = {"calls": usage.calls, "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    return {k: now[k] - before.get(k, 0) for k in now}


def snapshot(model_uri: str) -> dict[str, float]:
    return usage_delta(model_uri, {})


def measure(judge: Any, test_traces: list, model_uri: str, keep_report: bool = False) -> dict[str, Any]:
    before = snapshot(model_uri)
    started = time.perf_counter()
    report = accord.evaluate_agreement(judge, test_traces, concurrency=1, log_verdicts=False, show_progress=True)
    wall = time.perf_counter() - started
    a = report.agreement
    extra = verdict_probability_figures(report, test_traces, judge.name)
    by_id = {t.trace_id: t for t in test_traces}
    return {
        "n": len(test_traces),
        "n_compared": a.n,
        "unparseable": a.extra.get("unparseable", 0),
        "accuracy": round(a.accuracy, 4),
        "kappa": round(a.cohen_kappa, 4),
        "kappa_ci": [round(x, 4) for x in a.kappa_ci],
        "confusion": {"labels": a.labels, "matrix": a.confusion},
        "eval_wall_s": round(wall, 1),
        "eval_s_per_verdict": round(wall / max(1, len(test_traces)), 2),
        "eval_llm": usage_delta(model_uri, before),
        "answers_from_cache_dir": bool(_cache_argument()),  # then wall times include replayed answers
        **extra,
        **({"_report": report} if keep_report else {}),
        # each verdict with the decision's confidence: bench/selective.py replays abstention thresholds on them
        "verdicts": [
            {
                "trace_id": v.trace_id,
                "human": human_label(by_id[v.trace_id], judge.name),
                "value": v.value,
                "confidence": v.metadata.get("confidence"),
            }
            for v in report.verdicts
            if v.error is None
        ],
    }


def transfer_figures(aligned: Any, report: Any, test_traces: list, train_traces: list) -> dict[str, Any]:
    """Whether the checks transfer: the share of distilled conditions that named one case (before the
    rewrite) and of the checks asked that still do (after), and each kept check's AUC on the held-out
    traces (P(yes) against the experts' label, either direction; None where it cannot tell)."""
    from sklearn.metrics import roc_auc_score

    from accord.align.checks.transfer import specificity, trace_text

    selection = aligned.selection
    conditions = [g for g in aligned.guideline_list if not g.from_reason]
    texts = {t.trace_id: trace_text(t.inputs, t.outputs) for t in train_traces}

    def names_one_case(text: str, sources: list[str]) -> bool:
        mine = set(sources)
        return specificity(
            text, [v for k, v in texts.items() if k in mine], [v for k, v in texts.items() if k not in mine]
        ).names_one_case

    before = [names_one_case(g.text, g.sources) for g in conditions]
    asked = [c for c in selection.get("checks", []) if c.get("origin", "feedback") == "feedback"]
    by_question = {c.question: c for c in getattr(aligned, "checks", [])}
    after = [
        names_one_case(c["question"], by_question[c["question"]].sources if c["question"] in by_question else [])
        for c in asked
    ]
    human = {t.trace_id: human_label(t, aligned.name) for t in test_traces}
    held_out_auc: dict[str, Any] = {}
    for check in getattr(aligned, "checks", []):
        pairs = [
            (human[v.trace_id], row["p_yes"])
            for v in report.verdicts
            for row in v.metadata.get("checks", [])
            if row["question"] == check.question and row["p_yes"] is not None and human.get(v.trace_id) is not None
        ]
        classes = sorted({str(h) for h, _ in pairs})
        if len(classes) < 2:
            held_out_auc[check.question] = None
            continue
        auc = roc_auc_score([str(h) == classes[0] for h, _ in pairs], [p for _, p in pairs])
        held_out_auc[check.question] = {"origin": check.origin, "auc": round(max(auc, 1 - auc), 4)}
    return {
        "conditions_distilled": len(conditions),
        "naming_one_case_before": round(sum(before) / len(before), 3) if before else None,
        "distilled_checks_asked": len(asked),
        "naming_one_case_after": round(sum(after) / len(after), 3) if after else None,
        "kept_checks_held_out_auc": held_out_auc,
    }


def verdict_probability_figures(report: Any, test_traces: list, name: str) -> dict[str, Any]:
    """For judges that record verdict probabilities: how well P("no") ranks the held-out traces (AUC) and
    how many verdicts the decision rule overruled."""
    from sklearn.metrics import roc_auc_score

    human = {t.trace_id: human_label(t, name) for t in test_traces}
    pairs = [
        (human[v.trace_id], v.metadata["verdict_probabilities"]["no"])
        for v in report.verdicts
        if v.metadata.get("verdict_probabilities") and human.get(v.trace_id) is not None
    ]
    if len({h for h, _ in pairs}) < 2:
        return {}
    return {
        "auc_p_no": round(roc_auc_score([h == "no" for h, _ in pairs], [p for _, p in pairs]), 4),
        "overruled": sum("decision" in v.metadata for v in report.verdicts),
    }


def _harness_script(harness: Path, run: Path, instructions: str) -> Path:
    """The comparator's script, given this dataset's judge instructions (it is written for faithbench's);
    a copy in the run folder, never committed."""
    source = (harness / "run_mlflow_memalign.py").read_text()
    marker = "INSTRUCTIONS = ("
    start = source.index(marker)
    end = source.index('")\n', start) + 3
    script = run / "run_mlflow_memalign.py"
    script.write_text(source[:start] + f"INSTRUCTIONS = {instructions!r}\n" + source[end:])
    return script


def run_mlflow(args: argparse.Namespace, cfg: dict[str, Any], train_file: Path, test_file: Path) -> dict[str, Any]:
    run = Path(args.mlflow_run).resolve()
    harness = SHARED / "bench" / "mlflow_memalign"
    env = {**os.environ, "ANCHOR_DIR": str(run), "HOME": str(run / "home")}
    (run / "home").mkdir(exist_ok=True)
    tag = f"{args.dataset}_{args.n_train}_{args.n_test}"
    for stale in (run / f"results_{tag}.jsonl", run / f"summary_{tag}.json"):
        stale.unlink(missing_ok=True)
    server = subprocess.Popen(
        [str(run / "venv/bin/python"), str(harness / "serve_local.py"), str(args.mlflow_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # the server loads the model first
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.mlflow_port}/stats", timeout=2)
                break
            except OSError:
                time.sleep(1)
        subprocess.run(
            [
                str(run / "venv/bin/python"),
                str(_harness_script(harness, run, cfg["instructions"])),
                "--train-file",
                str(train_file),
                "--test-file",
                str(test_file),
                "--name",
                cfg["name"],
                "--input-key",
                cfg["input_key"],
                "--n-train",
                str(args.n_train),
                "--n-test",
                str(args.n_test),
                "--port",
                str(args.mlflow_port),
                "--tag",
                tag,
                *(["--skip-baseline"] if args.mlflow_skip_baseline else []),
            ],
            env=env,
            check=True,
        )
    finally:
        server.terminate()
        server.wait()
    summary = json.loads((run / f"summary_{tag}.json").read_text())
    rows = [json.loads(line) for line in (run / f"results_{tag}.jsonl").read_text().splitlines()]
    out: dict[str, Any] = {
        "align_wall_s": summary["align"]["wall_s"],
        "align_llm": summary["align"]["proxy_stats"],
        "guidelines": [g["text"] for g in summary["align"]["guidelines"]],
    }
    for run_name, key in (("baseline", "mlflow_baseline"), ("aligned", "mlflow_memalign")):
        mine = [r for r in rows if r["run"] == run_name]
        if not mine:  # --mlflow-skip-baseline
            continue
        parsed = [r for r in mine if r["verdict"] in ("yes", "no")]
        a = agreement([r["human"] for r in parsed], [r["verdict"] for r in parsed]) if parsed else None
        out[key] = {
            "n": len(mine),
            "n_compared": len(parsed),
            "unparseable": len(mine) - len(parsed),
            "accuracy": round(a.accuracy, 4) if a else None,
            "accuracy_errors_as_wrong": round(sum(r["verdict"] == r["human"] for r in parsed) / max(1, len(mine)), 4),
            "kappa": round(a.cohen_kappa, 4) if a else None,
            "kappa_ci": [round(x, 4) for x in a.kappa_ci] if a else None,
            "eval_wall_s": summary[run_name]["total_wall_s"],
            "eval_s_per_verdict": round(summary[run_name]["total_wall_s"] / max(1, len(mine)), 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="faithbench")
    parser.add_argument("--methods", default="baseline,memalign", help="baseline,memalign,simba,mlflow")
    parser.add_argument("--n-train", type=int, default=60)
    parser.add_argument("--n-test", type=int, default=50)
    parser.add_argument("--sample", type=int, default=300, help="halueval: rows in the stratified sample")
    parser.add_argument("--curve", default="", help="training sizes for a MemAlign learning curve, e.g. 10,25,50")
    parser.add_argument("--simba-steps", type=int, default=2)
    parser.add_argument("--simba-candidates", type=int, default=3)
    parser.add_argument("--simba-bsize", type=int, default=8)
    parser.add_argument("--model", default="local:/qwen2.5-coder-1.5b")
    parser.add_argument("--mlflow-run", default=str(ROOT.parent / "runs" / "mlflow"))
    parser.add_argument("--mlflow-port", type=int, default=18181)
    parser.add_argument("--mlflow-skip-baseline", action="store_true", help="run MLflow's aligned judge only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--result-first", action="store_true", help="MemAlign's judge answers verdict first")
    parser.add_argument("--label", default="", help="results go to alignment_<dataset>_<label>.json")
    parser.add_argument("--calibrate", action="store_true", help="MemAlign fits a decision threshold")
    parser.add_argument("--no-guidelines", action="store_true", help="MemAlign with episodic memory only")
    parser.add_argument("--candidates", default="", help="MemAlign's candidates, e.g. prompt or checks")
    parser.add_argument("--no-grounding", action="store_true", help="MemAlign's decision weighs no grounding")
    parser.add_argument(
        "--policy",
        default="",
        help="a written policy for MemAlign's checks: a file, or 'demo' for the demo's POLICY.md (support's default)",
    )
    parser.add_argument("--no-policy", action="store_true", help="no policy, even for support")
    parser.add_argument(
        "--cache",
        default="",
        help="keep the model's answers in DIR and reuse them (timings of a re-run are then not model time)",
    )
    args = parser.parse_args()
    cfg = DATASETS[args.dataset]
    if args.dataset == "support":
        from accord.demo import DATA, GENERIC_INSTRUCTIONS

        cfg = {**cfg, "instructions": GENERIC_INSTRUCTIONS}
        rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    else:
        rows = [json.loads(line) for line in (SHARED / "data" / cfg["file"]).read_text().splitlines()]
    train_rows, test_rows = split(args.dataset, rows, args.sample, args.seed)
    train_rows = stratified_prefix(train_rows, max([args.n_train, *[int(n) for n in args.curve.split(",") if n]]))
    test_rows = stratified_prefix(test_rows, args.n_test)
    work = Path(os.environ["ACCORD_HOME"])
    train_file, test_file = work / "train.jsonl", work / "test.jsonl"
    train = import_rows(train_rows, "train")
    test = import_rows(test_rows, "test")
    judge = make_judge(cfg["name"], cfg["instructions"], model=args.model, feedback_value_type=Literal["yes", "no"])
    out_path = RESULTS / f"alignment_{args.dataset}{'_' + args.label if args.label else ''}.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.update(
        {
            "dataset": args.dataset,
            "model": args.model,
            "date": time.strftime("%Y-%m-%d"),
            "split": {
                "train_available": len(train),
                "test": len(test_rows),
                "n_train": args.n_train,
                "test_labels": {v: sum(label(r) == v for r in test_rows) for v in ("yes", "no")},
                "by": "source document" if args.dataset == "faithbench" else "stratified sample",
                "seed": args.seed,
            },
        }
    )

    def save() -> None:
        RESULTS.mkdir(exist_ok=True)
        out_path.write_text(json.dumps(results, indent=2) + "\n")

    policy = None if args.no_policy else (args.policy or ("demo" if args.dataset == "support" else "")) or None
    if policy == "demo":
        from accord.demo import POLICY

        policy = str(POLICY)
    results["policy"] = policy
    methods = [m for m in args.methods.split(",") if m]
    train_n = stratified_prefix_traces(train, train_rows, args.n_train)
    if "baseline" in methods:
        results["baseline"] = measure(judge, test, args.model)
        save()
    if "memalign" in methods:
        optimizer = MemAlignOptimizer(
            show_progress=True,
            result_first=args.result_first,
            distill_guidelines=not args.no_guidelines,
            calibrate=args.calibrate,
            candidates=args.candidates.split(",") if args.candidates else None,
            grounding=not args.no_grounding,
            policy=policy,
        )
        key = "memalign" + ("_calibrated" if args.calibrate else "_result_first" if args.result_first else "")
        key += "_examples_only" if args.no_guidelines else ""
        key += "_" + args.candidates.replace(",", "_") if args.candidates else ""
        key += "_no_grounding" if args.no_grounding else ""
        results[key] = align_and_measure(judge, train_n, test, args.model, optimizer)
        save()
    if "simba" in methods:
        from accord.align.dspy_optimizers import SIMBAOptimizer

        optimizer = SIMBAOptimizer(
            max_steps=args.simba_steps, num_candidates=args.simba_candidates, bsize=args.simba_bsize
        )
        results["simba"] = align_and_measure(judge, train_n, test, args.model, optimizer)
        results["simba"]["settings"] = optimizer.config()
        save()
    if "mlflow" in methods:
        results.update(run_mlflow(args, cfg, train_file, test_file))
        save()
    if args.curve:  # the same held-out traces at every point, and the base judge on them once
        curve = results.setdefault("curve", {})
        if "baseline" not in results:
            results["baseline"] = measure(judge, test, args.model)
            save()
        for n in [int(x) for x in args.curve.split(",")]:
            subset = stratified_prefix_traces(train, train_rows, n)
            optimizer = MemAlignOptimizer(show_progress=False, policy=policy)
            curve[str(n)] = align_and_measure(judge, subset, test, args.model, optimizer)
            save()
    print(json.dumps(results, indent=2))


def stratified_prefix_traces(traces: list, rows: list[dict[str, Any]], n: int) -> list:
    """The stored traces for `stratified_prefix(rows, n)` (import kept the row order)."""
    wanted = {r["trace_id"] for r in stratified_prefix(rows, n)}
    return [t for t in traces if t.tags.get("source_trace_id") in wanted]


def align_and_measure(judge: Any, train: list, test: list, model_uri: str, optimizer: Any) -> dict[str, Any]:
    before = snapshot(model_uri)
    started = time.perf_counter()
    aligned = judge.align(train, optimizer)
    align_wall = time.perf_counter() - started
    result = {"n_train": len(train), "align_wall_s": round(align_wall, 1), "align_llm": usage_delta(model_uri, before)}
    result.update(measure(aligned, test, model_uri, keep_report=True))
    report = result.pop("_report")
    if getattr(aligned, "selection", None):
        result["transfer"] = transfer_figures(aligned, report, test, train)
    if hasattr(aligned, "guidelines"):
        result["guidelines"] = aligned.guidelines
    if getattr(aligned, "selection", None):
        result["chosen"] = aligned.selection.get("chosen")
        result["selection"] = aligned.selection
        if aligned.fitted is not None:
            result["weights"] = aligned.fitted.weights([c.question for c in aligned.checks])
    if getattr(aligned, "decision", None) is not None:
        result["decision"] = aligned.decision.to_dict()
    elif aligned.instructions != judge.instructions:
        result["instructions"] = aligned.instructions
    return result


if __name__ == "__main__":
    sys.exit(main())
