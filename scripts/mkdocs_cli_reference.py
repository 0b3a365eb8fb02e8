"""An mkdocs hook: the command-line reference page is written from the commands themselves, at build time,
so it never drifts from `accord --help`."""

from __future__ import annotations

from typing import Any


def _is_group(command: Any) -> bool:  # typer ships its own copy of click: duck-typed
    return hasattr(command, "list_commands")


def _commands(group: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    from typer.main import get_command  # noqa: F401 - loads typer's click

    context_type = type(group).context_class
    found = [(path, group)]
    if _is_group(group):
        for name in sorted(group.list_commands(context_type(group))):
            command = group.get_command(context_type(group), name)
            if command is not None and not getattr(command, "hidden", False):
                found += _commands(command, [*path, name])
    return found


def _page() -> str:
    import typer.core
    import typer.main

    from accord.cli import app
    from accord.cli.common import plain_metavars

    typer.core.HAS_RICH = False  # plain help text: boxes drawn for a terminal do not belong in a web page
    root = typer.main.get_command(app)
    plain_metavars(root)  # as `accord COMMAND --help` shows them
    lines = [
        "# Every command",
        "",
        "Written from the commands at build time (`accord COMMAND --help` says the same).",
        "",
    ]
    for path, command in _commands(root, ["accord"]):
        if _is_group(command):
            if len(path) > 1:
                lines += [f"## `{' '.join(path)}`", "", (command.help or "").strip(), ""]
            continue
        ctx = type(command).context_class(command, info_name=" ".join(path))
        lines += [f"### `{' '.join(path)}`", "", "```text", command.get_help(ctx).strip(), "```", ""]
    return "\n".join(lines) + "\n"


def on_page_read_source(page: Any, config: Any) -> str | None:
    if page.file.src_uri == "reference/cli.md":
        return _page()
    return None
