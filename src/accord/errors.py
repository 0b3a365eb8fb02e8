"""One root exception with structured fields, so callers can catch `AccordError` and read what went wrong."""

from __future__ import annotations


class AccordError(Exception):
    """Root of every error accord raises on purpose."""


class ConfigError(AccordError):
    """Bad configuration: an unknown model provider, a missing API key, a bad store URI."""


class NotFoundError(AccordError):
    """A trace, experiment or judge that does not exist."""


class TemplateError(AccordError):
    """A judge template with unknown variables, or none at all."""


class InputFileError(AccordError):
    """A malformed input file; `problems` lists (line number, field, message) for each rejected line."""

    def __init__(self, path: str, problems: list[tuple[int, str, str]], total_lines: int) -> None:
        self.path = path
        self.problems = problems
        self.total_lines = total_lines
        shown = "\n".join(f"  {path}:{line}: {field}: {msg}" for line, field, msg in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        lines = len({line for line, _, _ in problems if line > 0})  # a line may have several problems
        counted = f"{lines} of {total_lines} lines" if lines else "the file"
        super().__init__(
            f"{counted} in {path} {'was' if not lines else 'were'} rejected; nothing was imported:\n{shown}{more}"
        )


class ModelFilesError(AccordError):
    """The files of a local model are missing or corrupt."""


class ModelError(AccordError):
    """A model call failed. `retryable` errors (timeouts, 429, 5xx) are retried with backoff first."""

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        self.model = model
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable
        where = f"{model}: " if model else ""
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{where}{message}{code}")


class ModelUnreachable(ModelError):
    """The model's server refused or dropped the connection: no HTTP answer at all."""

    def __init__(self, message: str = "cannot reach the model server", **kwargs: object) -> None:
        super().__init__(message, retryable=True, **kwargs)  # type: ignore[arg-type]


class RunStopped(AccordError):
    """A run stopped early (the model is unreachable); what it finished is stored."""


class ModelTimeout(ModelError):
    def __init__(self, message: str = "the model did not answer in time", **kwargs: object) -> None:
        super().__init__(message, retryable=True, **kwargs)  # type: ignore[arg-type]


class RateLimited(ModelError):
    def __init__(self, message: str = "rate limited by the provider", **kwargs: object) -> None:
        super().__init__(message, retryable=True, status=429, **kwargs)  # type: ignore[arg-type]


class OutputParseError(AccordError):
    """A model answer that is not the JSON the judge asked for."""

    def __init__(self, message: str, raw: str) -> None:
        self.raw = raw
        super().__init__(f"{message}; answer began: {raw[:200]!r}")


class StoreDamagedError(AccordError):
    """The store's database cannot be read: a damaged file, or not a database at all."""


class PromotionRefused(AccordError):
    """A judge version was not promoted: it agrees less with the experts than the one it would replace."""

    def __init__(self, message: str, figures: dict | None = None) -> None:
        super().__init__(message)
        self.figures = dict(figures or {})
