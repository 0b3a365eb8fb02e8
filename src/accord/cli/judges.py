"""`accord judges list|show|create|run|...`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from accord.cli.common import JSON_OPTION, console, fail, handle_errors, print_json, selection_lines
from accord.evaluation import evaluate
from accord.judges import BUILTIN_JUDGES, judge_from_file
from accord.registry import list_judge_versions, list_judges, register_judge, resolve_judge
from accord.store import get_store

app = typer.Typer(help="Create, list, inspect and run judges.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_command(as_json: bool = JSON_OPTION) -> None:
    """List registered judges (newest version of each) and the built-in ones."""
    registered = [v.to_dict() for v in list_judges()]
    builtins = [
        {"class": name, "name": cls.default_name, "description": (cls.__doc__ or "").strip()}
        for name, cls in BUILTIN_JUDGES.items()
    ]
    if as_json:
        print_json({"registered": registered, "builtin": builtins})
        return
    table = Table(title="registered judges")
    for column in ("name", "version", "kind", "model", "value type"):
        table.add_column(column)
    for row in registered:
        table.add_row(
            row["name"],
            str(row["version"]),
            str(row["kind"]),
            str(row["model"] or "(default)"),
            str(row["feedback_value_type"]),
        )
    console.print(table)
    table = Table(title="built-in judges")
    table.add_column("name")
    table.add_column("class")
    table.add_column("judges")
    for row in builtins:
        table.add_row(row["name"], row["class"], row["description"])
    console.print(table)


@app.command("show")
@handle_errors
def show_command(
    judge: str = typer.Argument(..., help="NAME, NAME@VERSION, a built-in name, or a spec file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a judge's spec: instructions, model, value type."""
    found = resolve_judge(judge)
    spec = {**found.to_dict(), "version": found.version}
    if as_json:
        print_json(spec)
        return
    console.print(f"[bold]{found.name}[/] version {found.version or '(unregistered)'} — {found.value_type}")
    console.print(f"model: {found.model or '(default)'}")
    console.print("instructions:", markup=False)
    console.print(found.instructions, markup=False, highlight=False)


@app.command("versions")
@handle_errors
def versions_command(name: str, as_json: bool = JSON_OPTION) -> None:
    """List every registered version of a judge."""
    versions = [v.to_dict() for v in list_judge_versions(name)]
    if as_json:
        print_json(versions)
        return
    for v in versions:
        aliases = "".join(f"  @{a}" for a in v["aliases"])
        console.print(f"{v['name']}@{v['version']}  {v['kind']}  tags={v['tags']}{aliases}", markup=False)


@app.command("promote")
@handle_errors
def promote_command(
    judge: str = typer.Argument(..., help="NAME@VERSION to promote."),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Score both versions here (default: the version's own experiment)."
    ),
    alias: str = typer.Option("champion", "--alias", help="The alias to move (a bare judge name means champion)."),
    force: bool = typer.Option(False, "--force", help="Promote even when it agrees less than the current one."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a version the judge's champion, the one a bare judge name means. Both versions are scored on the
    labelled traces neither learned from; a version that agrees less is refused (exit code 4) unless --force."""
    from accord.errors import PromotionRefused
    from accord.registry import promote

    name, _, version = judge.partition("@")
    if not version.isdigit():
        raise ValueError(f"name the version to promote: NAME@VERSION, not {judge!r}")
    try:
        result = promote(name, int(version), experiment, force=force, alias=alias, show_progress=not as_json)
    except PromotionRefused as exc:
        if as_json:
            print_json({"promoted": False, "reason": str(exc), **exc.figures})
        fail(str(exc), code=4)
        return
    if as_json:
        print_json(result)
        return
    figures = ""
    if "candidate_kappa" in result:
        figures = (
            f" (kappa {result['candidate_kappa']:.2f} against {result['champion_kappa']:.2f} for version "
            f"{result['previous']} on {result['traces']} traces neither learned from)"
        )
    console.print(f"{name}@{alias} is now version {version}{figures}", markup=False)


@app.command("alias")
@handle_errors
def alias_command(
    name: str = typer.Argument(..., help="The judge's registered name."),
    alias: str = typer.Argument(..., help="The alias, e.g. candidate or staging."),
    version: int | None = typer.Argument(None, help="The version it points at (omit with --delete)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
) -> None:
    """Point an alias at a version (`NAME@ALIAS` then names it), with no agreement check; use `promote` to
    move the champion with one."""
    from accord.registry import delete_alias, set_alias

    if delete:
        delete_alias(name, alias)
        console.print(f"removed {name}@{alias}", markup=False)
        return
    if version is None:
        raise ValueError("give the version the alias points at, or --delete")
    set_alias(name, alias, version)
    console.print(f"{name}@{alias} -> version {version}", markup=False)


@app.command("guidelines")
@handle_errors
def guidelines_command(
    judge: str = typer.Argument(..., help="NAME or NAME@VERSION of an aligned judge."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what an aligned judge learned: its guidelines and checks with the traces each came from, the
    candidates compared when it was aligned, and the fitted decision's weights."""
    found = resolve_judge(judge)
    items = [g.to_dict() for g in getattr(found, "guideline_list", [])]
    if as_json:
        fitted = getattr(found, "fitted", None)
        checks = [c.to_dict() for c in getattr(found, "checks", [])]
        print_json(
            {
                "guidelines": items,
                "mode": getattr(found, "mode", None),
                "checks": checks,
                "decision": fitted.to_dict() if fitted else None,
                "weights": fitted.weights([c["question"] for c in checks]) if fitted else None,
                "selection": getattr(found, "selection", None),
            }
        )
        return
    if not items:
        console.print(f"{found.key} has no learned guidelines")
    for i, item in enumerate(items, start=1):
        console.print(f"{i}. {item['text']}  [dim](from {len(item['sources'])} traces)[/]", highlight=False)
    if getattr(found, "mode", None):
        console.print(f"mode: {found.mode}", highlight=False)
    for i, check in enumerate(getattr(found, "checks", []), start=1):
        console.print(f"check {i}. {check.question}  [dim](from {len(check.sources)} traces)[/]", highlight=False)
    for line in selection_lines(found):
        console.print(line, markup=False, highlight=False)


@app.command("edit-checks")
@handle_errors
def edit_checks_command(
    judge: str = typer.Argument(..., help="NAME or NAME@VERSION of an aligned judge."),
    checks_file: Path = typer.Argument(..., help="A text file with one yes/no question per line."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace an aligned judge's checks and register the result as a new version. Unchanged questions keep
    their source traces; when the checks differ from those the decision was fitted on, the decision is
    marked stale until the judge is aligned again."""
    found = resolve_judge(judge)
    if not hasattr(found, "with_check_questions"):
        raise ValueError(f"{found.key} is not an aligned judge; align it first")
    lines = [line.strip() for line in checks_file.read_text().splitlines() if line.strip()]
    edited = found.with_check_questions(lines)
    version = register_judge(edited, name=found.registered_name, tags={"edited": "checks"})
    stale = bool(edited.fitted is not None and edited.fitted.stale)
    if as_json:
        print_json({"name": edited.registered_name, "version": version, "checks": lines, "stale_decision": stale})
        return
    console.print(f"registered [bold]{edited.registered_name}[/] version {version} with {len(lines)} checks")
    if stale:
        console.print("its decision is stale (fitted on other checks): run `accord align` again to refit")


@app.command("create")
@handle_errors
def create_command(
    spec: Path = typer.Argument(..., help="YAML or JSON: name, instructions, model, feedback_value_type."),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Experiment the judge belongs to."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a judge from a spec file (version 1, or the next version if the name exists). A spec you
    write becomes the champion, the version a bare judge name means (an alignment registers a candidate)."""
    judge = judge_from_file(spec)
    experiment_id = get_store().resolve_experiment(experiment).experiment_id if experiment else None
    version = register_judge(judge, experiment_id=experiment_id, champion=True)
    if as_json:
        print_json({"name": judge.name, "version": version, "aliases": ["champion"]})
    else:
        console.print(f"registered [bold]{judge.name}[/] version {version} (champion)")


@app.command("run")
@handle_errors
def run_command(
    judge: list[str] = typer.Option(
        ..., "--judge", "-j", help="NAME[@VERSION], built-in name or spec file (repeatable)."
    ),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Experiment whose traces to judge."),
    model: str | None = typer.Option(None, "--model", help="Override the judges' model URI."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="Judgments in flight at once (Ray: actors)."),
    engine: str = typer.Option("threads", "--engine", help="threads (this process) or ray (Ray actors)."),
    address: str | None = typer.Option(None, "--address", help="Ray: a running cluster's address (default: local)."),
    input_file: Path | None = typer.Option(
        None, "--input", help="Judge traces from this JSONL or Parquet file instead of the store (needs --output)."
    ),
    output: Path | None = typer.Option(
        None, "--output", help="With --input: a folder for the verdicts' Parquet files."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Judge every trace of an experiment and log the verdicts. Interrupt and re-run freely: finished
    verdicts are kept and not redone. With --input/--output, traces come from a file and verdicts go to
    Parquet files, never through the store."""
    if engine not in ("threads", "ray"):
        raise typer.BadParameter(f"--engine must be threads or ray, not {engine!r}")
    if (input_file is None) == (experiment is None):
        raise typer.BadParameter("give --experiment, or --input FILE with --output FOLDER")
    if input_file is not None and output is None:
        raise typer.BadParameter("--input needs --output FOLDER for the verdicts")
    judges = [resolve_judge(j) for j in judge]
    for j in judges:
        if model:
            j.model = model
    if input_file is not None:
        from accord.evaluation.files import judge_files

        assert output is not None
        result = judge_files(input_file, judges, output, engine, address, concurrency, show_progress=not as_json)
    else:
        assert experiment is not None
        result = evaluate(
            experiment, judges, concurrency=concurrency, show_progress=not as_json, engine=engine, address=address
        )
    summary = result.summary()
    if as_json:
        print_json(summary)
        if summary["new"] and summary["errors"] >= summary["new"]:
            raise typer.Exit(1)
        return
    console.print(f"{summary['new']} new verdicts, {summary['reused']} already stored, {summary['errors']} errors")
    if result.waited_for_others:
        console.print(
            f"{result.waited_for_others} traces were being judged by another run of the same judge: waited for it"
        )
    for verdict in result.errors[:5]:
        assert verdict.error is not None
        console.print(f"  {verdict.trace_id}: {verdict.error.error_message}", markup=False)
    if summary["new"] and summary["errors"] >= summary["new"]:
        fail(f"every one of the {summary['new']} new verdicts errored; they are stored, and a re-run retries them")
