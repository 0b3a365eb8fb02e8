"""Code-based scorers: deterministic metrics that run beside LLM judges (`accord.evaluate`, `accord judges run`).

    @accord.scorer
    def mentions_order_number(outputs) -> bool:
        return "order" in outputs.lower()

A scorer is a Python function of any of `inputs`, `outputs`, `expectations`, `trace` (it is given the ones
it names) returning a bool, int, float, str or a `Feedback`. Its results are stored as CODE feedback named
after it, never used as an expert's label. A scorer that raises gives a feedback with the error, as a judge
whose model fails does. In a judge spec file: `kind: scorer` with `python: package.module:function`, or
`builtin: ExactMatch` and `params:`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from accord.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.errors import AccordError
from accord.judges.base import SPEC_VERSION, Judge, JudgeInput
from accord.judges.value_types import ValueType

ARGUMENTS = ("inputs", "outputs", "expectations", "trace")

# `inspect.getsource` of a class parses its whole module with `ast`, and CPython 3.11's AST builder is not
# safe from two threads at once ("AST constructor recursion depth mismatch"): verdicts run in threads, and
# each one names its judge's fingerprint, so the source is read once per object, under a lock.
_SOURCE_LOCK = threading.Lock()
_SOURCES: dict[object, str] = {}


def _source_of(obj: object) -> str:
    with _SOURCE_LOCK:
        try:
            return _SOURCES[obj]
        except KeyError:
            _SOURCES[obj] = code = _read_source(obj)
            return code
        except TypeError:  # an unhashable callable: read every time
            return _read_source(obj)


def _read_source(obj: object) -> str:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


class MissingInput(AccordError):
    """What a scorer needs is not on the trace (an expectation, spans with token counts)."""


class Scorer(Judge):
    """A scorer made from a function (see `scorer`); built-in scorers override `score`."""

    kind: ClassVar[str] = "scorer"
    source_type: ClassVar[AssessmentSourceType] = AssessmentSourceType.CODE

    def __init__(
        self,
        function: Callable[..., Any] | None = None,
        name: str | None = None,
        python: str | None = None,
        feedback_value_type: Any = None,
        description: str | None = None,
    ) -> None:
        self._function = function
        self._loader: Callable[[], Callable[..., Any]] | None = None  # a stored spec's function, imported on use
        name = name or (function.__name__ if function is not None else _snake(type(self).__name__))
        if not re.fullmatch(r"[\w.\-]+", name):
            raise ValueError(f"scorer name {name!r} must be letters, digits, '_', '-' or '.'")
        self.name = name
        self.python = python or (f"{function.__module__}:{function.__qualname__}" if function is not None else None)
        self.instructions = ""
        self.variables: list[str] = []
        self.model = None
        self.value_type = ValueType.of(feedback_value_type or str)
        self.description = description or (inspect.getdoc(function) if function is not None else None)
        self.inference_params: dict[str, Any] = {}
        self.version: int | None = None
        self.registered_name: str | None = None

    @property
    def function(self) -> Callable[..., Any] | None:
        """The scoring function; a stored spec's is imported here, on first use (showing a spec runs no code)."""
        if self._function is None and self._loader is not None:
            self._function = self._loader()
        return self._function

    def params(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"spec_version": SPEC_VERSION, "kind": "scorer", "name": self.name}
        if self._function is not None or self._loader is not None:
            spec["python"] = self.python
        else:
            spec.update({"builtin": type(self).__name__, "params": self.params()})
        if self.description:
            spec["description"] = self.description
        return spec

    @property
    def fingerprint(self) -> str:
        """Its spec and its code: editing the function means new verdicts."""
        try:
            code = _source_of(self.function if self.python and type(self) is Scorer else type(self))
        except AccordError:  # a stored spec whose module may not load: its verdicts say why; the key is the spec's
            code = ""
        text = json.dumps(self.to_dict(), sort_keys=True) + code
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def system_prompt(self) -> str:
        raise AccordError(f"{self.name} is a code-based scorer: it has no prompt")

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        assert self.function is not None
        given = {"inputs": inputs, "outputs": outputs, "expectations": expectations, "trace": trace}
        wanted = inspect.signature(self.function).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in wanted.values())
        return self.function(**{k: v for k, v in given.items() if takes_all or k in wanted})

    def judge(self, given: JudgeInput) -> Feedback:
        trace_id = given.trace.trace_id if given.trace is not None else None
        source = AssessmentSource(source_type=AssessmentSourceType.CODE, source_id=self.python or f"accord:{self.name}")
        metadata: dict[str, Any] = {"judge": self.name, "judge_key": self.key, "scorer": source.source_id}
        try:
            result = self.score(given.inputs, given.outputs, given.expectations or {}, given.trace)
        except Exception as exc:  # the scorer's own bug or a missing input: this trace's error, never the batch's
            code = "MISSING_INPUT" if isinstance(exc, MissingInput) else type(exc).__name__
            return Feedback(
                trace_id=trace_id,
                name=self.name,
                source=source,
                error=AssessmentError(error_code=code, error_message=str(exc) or type(exc).__name__),
                metadata=metadata,
            )
        if isinstance(result, Feedback):
            return result.model_copy(
                update={
                    "trace_id": trace_id,
                    "name": result.name or self.name,
                    "source": source,
                    "metadata": {**metadata, **result.metadata},
                }
            )
        value, rationale = result if isinstance(result, tuple) else (result, None)
        return Feedback(
            trace_id=trace_id, name=self.name, value=value, rationale=rationale, source=source, metadata=metadata
        )


def scorer(function: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """`@accord.scorer` (or `@accord.scorer(name="...")`): a function as a code-based scorer."""

    def wrap(fn: Callable[..., Any]) -> Scorer:
        unknown = [p for p in inspect.signature(fn).parameters if p not in ARGUMENTS and p != "kwargs"]
        if unknown:
            raise ValueError(
                f"scorer {fn.__name__}: unknown argument {unknown[0]!r}; use any of {', '.join(ARGUMENTS)}"
            )
        return Scorer(fn, name=name)

    return wrap(function) if function is not None else wrap


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return _text(next(iter(value.values())))
    return json.dumps(value, ensure_ascii=False, default=str)


def _expected(expectations: dict[str, Any], name: str) -> Any:
    if name not in expectations:
        raise MissingInput(f"the trace has no expectation {name!r} (it has: {', '.join(expectations) or 'none'})")
    return expectations[name]


class ExactMatch(Scorer):
    """The output equals an expectation (whitespace and, unless case_sensitive, case ignored)."""

    def __init__(self, expectation: str = "expected_response", case_sensitive: bool = False, name: str | None = None):
        super().__init__(name=name or "exact_match", feedback_value_type=bool)
        self.expectation, self.case_sensitive = expectation, case_sensitive

    def params(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "case_sensitive": self.case_sensitive}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        def norm(text: str) -> str:
            text = " ".join(text.split())
            return text if self.case_sensitive else text.lower()

        same = norm(_text(outputs)) == norm(_text(_expected(expectations, self.expectation)))
        return same, f"{'equals' if same else 'differs from'} the expectation {self.expectation!r}"


class Contains(Scorer):
    """The output contains an expectation's text (every item, for a list), or a fixed `text`."""

    def __init__(self, expectation: str = "expected_facts", text: str | None = None, name: str | None = None):
        super().__init__(name=name or "contains", feedback_value_type=bool)
        self.expectation, self.text = expectation, text

    def params(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "text": self.text}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        wanted = [self.text] if self.text is not None else _expected(expectations, self.expectation)
        items = [_text(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        output = _text(outputs).lower()
        missing = [w for w in items if w.lower() not in output]
        return not missing, ("contains every expected item" if not missing else f"missing: {'; '.join(missing)}")


class RegexMatch(Scorer):
    """The output matches a regular expression (searched anywhere in it)."""

    def __init__(self, pattern: str, name: str | None = None):
        super().__init__(name=name or "regex_match", feedback_value_type=bool)
        self.pattern = pattern
        try:
            self._compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"RegexMatch: not a valid regular expression {pattern!r}: {exc}") from None

    def params(self) -> dict[str, Any]:
        return {"pattern": self.pattern}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        found = self._compiled.search(_text(outputs))
        return bool(found), f"matches {self.pattern!r}" if found else f"does not match {self.pattern!r}"


class ValidJson(Scorer):
    """The output is valid JSON, and with `schema` also valid against that JSON schema."""

    def __init__(self, schema: dict[str, Any] | None = None, name: str | None = None):
        super().__init__(name=name or ("json_schema" if schema else "valid_json"), feedback_value_type=bool)
        self.schema = schema

    def params(self) -> dict[str, Any]:
        return {"schema": self.schema}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        if isinstance(outputs, str):
            try:
                data = json.loads(outputs)
            except ValueError as exc:
                return False, f"not valid JSON: {exc}"
        else:
            data = outputs
        if self.schema is None:
            return True, "valid JSON"
        import jsonschema

        errors = sorted(jsonschema.Draft202012Validator(self.schema).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return False, f"{where}: {errors[0].message}"
        return True, "valid against the schema"


class LengthBounds(Scorer):
    """The output's length in characters is within bounds."""

    def __init__(self, min_chars: int | None = None, max_chars: int | None = None, name: str | None = None):
        super().__init__(name=name or "length_bounds", feedback_value_type=bool)
        self.min_chars, self.max_chars = min_chars, max_chars

    def params(self) -> dict[str, Any]:
        return {"min_chars": self.min_chars, "max_chars": self.max_chars}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        length = len(_text(outputs))
        ok = (self.min_chars is None or length >= self.min_chars) and (
            self.max_chars is None or length <= self.max_chars
        )
        return ok, f"{length} characters (bounds {self.min_chars} to {self.max_chars})"


def _trace_of(trace: Trace | None, what: str) -> Trace:
    if trace is None:
        raise MissingInput(f"{what} needs the trace (call it with trace=..., or run it over stored traces)")
    return trace


class LatencyBudget(Scorer):
    """The trace took at most `max_ms` (its execution time, else its root span's duration)."""

    def __init__(self, max_ms: float, name: str | None = None):
        super().__init__(name=name or "latency_budget", feedback_value_type=bool)
        self.max_ms = max_ms

    def params(self) -> dict[str, Any]:
        return {"max_ms": self.max_ms}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        found = _trace_of(trace, "LatencyBudget")
        took = found.execution_time_ms
        if took is None and found.root_span is not None and found.root_span.end_time_ms is not None:
            took = found.root_span.end_time_ms - found.root_span.start_time_ms
        if took is None:
            raise MissingInput("the trace records no execution time")
        return took <= self.max_ms, f"took {took} ms (budget {self.max_ms:g} ms)"


class TokenBudget(Scorer):
    """The trace's model calls used at most `max_tokens` in all (token usage recorded on its spans)."""

    def __init__(self, max_tokens: int, name: str | None = None):
        super().__init__(name=name or "token_budget", feedback_value_type=bool)
        self.max_tokens = max_tokens

    def params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens}

    def score(self, inputs: Any, outputs: Any, expectations: dict[str, Any], trace: Trace | None) -> Any:
        found = _trace_of(trace, "TokenBudget")
        total, counted = 0, 0
        for span in found.spans:
            usage = span.attributes.get("usage") or {}
            if isinstance(usage, dict) and usage:
                total += int(
                    usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
                )
                counted += 1
        if not counted:
            raise MissingInput("no span of the trace records token usage")
        return total <= self.max_tokens, f"{total} tokens in {counted} model calls (budget {self.max_tokens})"


BUILTIN_SCORERS: dict[str, type[Scorer]] = {
    cls.__name__: cls for cls in (ExactMatch, Contains, RegexMatch, ValidJson, LengthBounds, LatencyBudget, TokenBudget)
}


_ALLOWED_MODULES: set[str] = set()


def allow_scorer_modules(*prefixes: str) -> None:
    """Let registered scorer specs import these modules (and their submodules), as ACCORD_SCORER_MODULES does."""
    _ALLOWED_MODULES.update(p.strip() for p in prefixes if p.strip())


def _allowed(module_name: str) -> bool:
    """Whether a stored spec may import `module_name`: listed in ACCORD_SCORER_MODULES or by
    `allow_scorer_modules`, or already imported by the running program (importing it again runs nothing)."""
    if module_name in sys.modules:
        return True
    listed = _ALLOWED_MODULES | {p.strip() for p in os.environ.get("ACCORD_SCORER_MODULES", "").split(",") if p.strip()}
    return any(module_name == p or module_name.startswith(p + ".") for p in listed)


@contextlib.contextmanager
def _without_current_directory() -> Iterator[None]:
    """Imports for stored specs never come from the current directory (`python -m` puts it on sys.path)."""
    here = {"", ".", os.getcwd()}
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in here]
    try:
        yield
    finally:
        sys.path[:] = saved


def scorer_from_dict(spec: dict[str, Any], trusted: bool = False) -> Scorer:
    """A scorer from its spec: a built-in with params, or a function by import path. Naming a module runs
    it, so a spec the user hands over (`trusted`: a file given on the command line, Python code) may name
    any module, while a spec read from the store (whoever registered it) may only name modules the user
    allowed (ACCORD_SCORER_MODULES, `allow_scorer_modules`) and never imports from the current directory."""
    name = spec.get("name")
    if spec.get("builtin"):
        cls = BUILTIN_SCORERS.get(spec["builtin"])
        if cls is None:
            raise AccordError(f"unknown built-in scorer {spec['builtin']!r} (known: {', '.join(BUILTIN_SCORERS)})")
        return cls(**(spec.get("params") or {}), **({"name": name} if name else {}))
    path = spec.get("python")
    if not path or ":" not in str(path):
        raise AccordError("a scorer spec needs `python: package.module:function` or `builtin: ClassName`")
    module_name, _, attribute = str(path).partition(":")
    if not trusted:  # imported when it first scores, never while a spec is only read or shown
        lazy = Scorer(
            None, name=name or attribute.split(".")[-1], python=str(path), description=spec.get("description")
        )

        def load() -> Callable[..., Any]:
            found = _load_function(str(path), name, trusted=False)
            return found.function if type(found) is Scorer and found.function is not None else found.score

        lazy._loader = load
        return lazy
    return _load_function(str(path), name, trusted=True)


def _load_function(path: str, name: str | None, trusted: bool) -> Any:
    """The function (or Scorer) that `path` names; a stored spec may only name modules the user allowed."""
    module_name, _, attribute = path.partition(":")
    if not trusted and not _allowed(module_name):
        raise AccordError(
            f"the registered scorer {name or path!r} names the module {module_name!r}, which is not allowed to "
            f"load from a stored spec: add it to ACCORD_SCORER_MODULES (comma-separated module prefixes) or call "
            f"accord.judges.scorers.allow_scorer_modules({module_name.split('.')[0]!r})"
        )
    try:
        with contextlib.nullcontext() if trusted else _without_current_directory():
            importlib.invalidate_caches()  # a module written since the last import is found
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise AccordError(f"cannot load scorer {path!r}: {exc}") from None
    if isinstance(target, Scorer):
        found = target
    elif callable(target):
        found = Scorer(target, name=name, python=path)
    else:
        raise AccordError(f"{path!r} is neither a function nor a scorer")
    if name and found.name != name:
        found.name = name
    return found
