"""`accord doctor`: check that the store can be read and is intact."""

from __future__ import annotations

import typer

from accord.cli.common import JSON_OPTION, console, handle_errors, print_json


@handle_errors
def doctor_command(as_json: bool = JSON_OPTION) -> None:
    """Run the database's own integrity check on the store (ACCORD_STORE_URI, or the SQLite file in
    ACCORD_HOME) and say what it found; exits 1 when something is wrong."""
    from accord.config import store_uri
    from accord.store.engine import check_store, store_location

    uri = store_uri()
    problems = check_store(uri)
    if as_json:
        print_json({"store": store_location(uri), "ok": not problems, "problems": problems})
    elif problems:
        console.print(f"store {store_location(uri)}: {len(problems)} problem(s) found", highlight=False)
        for problem in problems[:20]:
            console.print(f"  {problem}", markup=False, highlight=False)
        console.print("restore the store from a backup; nothing was changed", highlight=False)
    else:
        console.print(f"store {store_location(uri)}: integrity check passed", highlight=False)
    if problems:
        raise typer.Exit(1)
