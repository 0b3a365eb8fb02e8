"""`accord cache info|clear`: the on-disk cache of model answers."""

from __future__ import annotations

import time

import typer

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json

app = typer.Typer(
    help="The cache of model answers (temperature 0 only; unusable answers are never kept; ACCORD_CACHE_TTL "
    "sets an expiry in seconds).",
    no_args_is_help=True,
)


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "—"


@app.command("info")
@handle_errors
def info_command(as_json: bool = JSON_OPTION) -> None:
    """Where the cache is, how many answers it holds, how old they are, and the expiry in force."""
    from accord.llm.cache import ResponseCache

    found = ResponseCache().info()
    if as_json:
        print_json(found)
        return
    ttl = f"{found['ttl_s']:.0f} s ({found['expired']} expired)" if found["ttl_s"] else "none (ACCORD_CACHE_TTL unset)"
    console.print(
        f"{found['path']}: {found['entries']} answers, {found['bytes'] / 1e6:.1f} MB; "
        f"oldest {_when(found['oldest'])}, newest {_when(found['newest'])}; expiry {ttl}",
        highlight=False,
    )


@app.command("clear")
@handle_errors
def clear_command(
    older_than: float | None = typer.Option(
        None, "--older-than", help="Only answers stored more than this many seconds ago."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete cached answers (all, or the older ones): the next run asks the model again."""
    from accord.llm.cache import ResponseCache

    removed = ResponseCache().clear(older_than)
    if as_json:
        print_json({"removed": removed})
        return
    console.print(f"removed {removed} cached answers")
