"""Shared CLI helpers: JSON output, tables, and turning accord's errors into clear messages."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DatabaseError
from typer.core import TyperCommand

from accord.errors import AccordError
from accord.metrics import Agreement

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
JSON_FILE = typer.Option(None, "--json-out", help="Also write the JSON to this file (the text goes to the terminal).")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Expected failures (bad files, unknown names, model errors) print one clear message, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (AccordError, ValueError, FileNotFoundError) as exc:
            fail(str(exc))
        except DatabaseError as exc:  # a store damaged after it was opened: one line, not a traceback
            from accord.config import store_uri
            from accord.store.engine import damaged_store

            fail(str(damaged_store(store_uri(), exc)))

    return wrapper  # type: ignore[return-value]


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def agreement_summary(title: str, agreement: Agreement, digits: int = 3) -> str:
    """One line: how many traces, accuracy, kappa with its interval, and every caveat the figures carry
    (unparseable verdicts, labels left out, traces it learned from, abstentions, order disagreement)."""
    extra = agreement.extra
    caveats = [
        f"unparseable={extra['unparseable']}" if extra.get("unparseable") else "",
        f"orders disagreed on {extra['order_disagreement_rate']:.0%} of pairs"
        if "order_disagreement_rate" in extra
        else "",
        f"labels left out (not a verdict of this judge)={extra['invalid_labels']}"
        if extra.get("invalid_labels")
        else "",
        f"left out {extra['learned_left_out']} traces it learned from"
        if extra.get("learned_left_out") and not extra.get("include_learned")
        else "",
        "(INCLUDES the traces it learned from)" if extra.get("include_learned") else "",
        f"coverage={extra['coverage']:.0%} (abstained on {extra['abstained']}; figures are on the verdicts it gave)"
        if extra.get("abstained")
        else "",
    ]
    return "  ".join(
        [
            f"[bold]{title}[/]: n={agreement.n}",
            f"accuracy={agreement.accuracy:.{digits}f}",
            f"Cohen's kappa={agreement.kappa_text(digits)} (95% CI in brackets)",
            *[c for c in caveats if c],
        ]
    )


def confusion_table(labels: list[Any], confusion: list[list[int]], rows_are: str = "humans") -> Table:
    """The confusion matrix as a table: rows are the humans' labels, columns the judge's."""
    table = Table(title=f"confusion (rows: {rows_are}, columns: judge)", title_justify="left")
    table.add_column("")
    for label in labels:
        table.add_column(f"judge {label}")
    for label, row in zip(labels, confusion, strict=True):
        table.add_row(f"{rows_are.rstrip('s')} {label}", *map(str, row))
    return table


def selection_lines(judge: Any) -> list[str]:
    """An aligned judge's comparison of candidates, the choice, and its checks with their weights."""
    selection = getattr(judge, "selection", None) or {}
    lines: list[str] = []
    if selection.get("candidates"):
        metric = selection.get("metric", "Cohen's kappa")
        cv = selection.get("cv", {})
        lines.append(
            f"candidates, {metric} cross-validated on {cv.get('traces', '?')} training traces "
            f"({cv.get('repeats', '?')} x {cv.get('folds', '?')}-fold"
            + (f"; folds {cv['grouping']}" if cv.get("grouping") else "")
            + "):"
        )
        for c in selection["candidates"]:
            if c["cv_kappa"] is None:
                note = c["note"] if c["note"].startswith("not scored") else f"not scored: {c['note']}"
                lines.append(f"  {c['name']:<14} {note}")
                continue
            low, high = c["cv_kappa_ci"] or (float("nan"), float("nan"))
            mark = "  <- chosen" if c["name"] == selection.get("chosen") else ""
            note = f"  ({c['note']})" if c.get("note") else ""
            lines.append(f"  {c['name']:<14} {c['cv_kappa']:+.2f} [{low:+.2f}, {high:+.2f}]{note}{mark}")
    if selection.get("chosen"):
        lines.append(f"chosen: {selection['chosen']} ({selection.get('reason', '')})")
    if selection.get("stale"):
        lines.append(f"STALE: {selection['stale']}")
    if selection.get("abstention"):
        lines.append(f"selective verdicts: {selection['abstention']['summary']}")
    fitted = getattr(judge, "fitted", None)
    if fitted is not None:
        questions = [c.question for c in getattr(judge, "checks", [])]
        stale = f" (STALE: {judge.stale})" if fitted.stale else ""
        lines.append(f"decision ({fitted.candidate}, fitted on {fitted.fitted_on} traces){stale}:")
        for row in fitted.weights(questions):
            if "threshold" in row:
                lines.append(f"  {row['feature']} at least {row['threshold']:.3f}")
            else:
                lines.append(f"  {_weight(row['weight'])}  {row['feature']}")
    elif getattr(judge, "checks", None):
        lines.append("checks (not used by the chosen judge):")
        lines += [f"  - {c.question}" for c in judge.checks]
    return lines


def _weight(weight: Any) -> str:
    if isinstance(weight, dict):
        return " ".join(f"{k}:{v:+.2f}" for k, v in weight.items())
    return f"{weight:+.2f}"


def plain_metavars(command: Any) -> None:
    """Help that reads like other command lines: a flag shows no value placeholder, an option that takes a value
    shows what to type (TEXT, INTEGER, NUMBER, PATH) instead of typer's `<bool>` / `<str>`. Choices keep their
    list. Applied once to the whole command tree when the CLI starts."""
    from typer.core import TyperArgument, TyperOption

    names = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER"}
    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):  # its name stays as the usage line shows it; only its type reads plainly
            label = "PATH" if param.type_descriptor.is_path else names.get(param.bare_type(), param.bare_type().upper())
            param.display_type_rich = lambda ctx, label=label: label  # type: ignore[method-assign]
            continue
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        elif param.type_descriptor.is_path:
            param.metavar = "PATH"
        elif not param.type_descriptor.is_choice:
            bare = param.bare_type()
            param.metavar = names.get(bare, bare.upper())
    if hasattr(command, "get_help_option"):  # --help is made when help is asked for, not kept in `params`
        made = command.get_help_option

        def help_option(ctx: Any) -> Any:
            option = made(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


class JsonOutCommand(TyperCommand):
    """`--json` is a flag here as everywhere (JSON on stdout); the old `--json FILE` still works for one release
    as `--json-out FILE`, with a note saying so."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        fixed: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--json" and i + 1 < len(args) and not args[i + 1].startswith("-"):
                err_console.print(
                    f"note: `--json {args[i + 1]}` is now `--json-out {args[i + 1]}` (`--json` alone prints JSON); "
                    "the old spelling goes in the next release",
                    highlight=False,
                    soft_wrap=True,
                )
                fixed.append("--json-out")
                continue
            fixed.append(arg)
        return super().parse_args(ctx, fixed)


def moved(command: Callable[..., Any], new: str) -> Callable[..., Any]:
    """A command under its old spelling, for one release: it says where the command moved, then runs it."""

    @functools.wraps(command)
    def old_spelling(*args: Any, **kwargs: Any) -> Any:
        err_console.print(
            f"note: this command is now `{new}`; the old spelling goes in the next release",
            highlight=False,
            soft_wrap=True,
        )
        return command(*args, **kwargs)

    return old_spelling
