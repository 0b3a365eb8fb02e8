"""Progress bars go to stderr, so JSON printed on stdout stays machine-readable."""

from rich.console import Console

PROGRESS_CONSOLE = Console(stderr=True)
