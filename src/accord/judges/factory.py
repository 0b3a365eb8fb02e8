"""Creating judges: `make_judge`, and rebuilding any judge from its JSON spec or a YAML/JSON file."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from accord.errors import AccordError, InputFileError
from accord.judges.base import SPEC_VERSION, Judge
from accord.judges.builtin import BUILTIN_BY_NAME, BUILTIN_JUDGES
from accord.judges.pairwise import PairwiseJudge, PairwisePreference
from accord.judges.value_types import ValueType


def make_judge(
    name: str,
    instructions: str,
    model: str | None = None,
    feedback_value_type: Any = str,
    description: str | None = None,
    inference_params: dict[str, Any] | None = None,
) -> Judge:
    """A judge from a template. Use `{{ inputs }}`, `{{ outputs }}`, `{{ expectations }}`, `{{ trace }}`
    or `{{ conversation }}`; `model=None` means `ACCORD_DEFAULT_MODEL`, else the embedded local model."""
    return Judge(
        name=name,
        instructions=instructions,
        model=model,
        feedback_value_type=feedback_value_type,
        description=description,
        inference_params=inference_params,
    )


_JUDGE_KINDS: dict[str, Any] = {}
KIND_ENTRY_POINTS = "accord.judge_kinds"  # pyproject: [project.entry-points."accord.judge_kinds"]


def register_judge_kind(kind: str, loader: Any) -> None:
    """Let another module (an aligned judge, say) rebuild its own kind of spec."""
    _JUDGE_KINDS[kind] = loader


def _kind_loader(kind: str) -> Any:
    """A registered loader, or one a package declares as an entry point (so this module, low in the
    layers, never imports the higher ones that define aligned judges)."""
    if kind not in _JUDGE_KINDS:
        for entry in metadata.entry_points(group=KIND_ENTRY_POINTS):
            if entry.name == kind:
                _JUDGE_KINDS[kind] = entry.load()
    return _JUDGE_KINDS.get(kind)


def judge_from_dict(spec: dict[str, Any], trusted: bool = False) -> Judge:
    """A judge from its spec. `trusted`: the user handed it over (a file on the command line); a spec read
    from the store is not, and may only name scorer modules the user allowed (see `scorer_from_dict`)."""
    if not isinstance(spec, dict):
        raise AccordError(f"a judge spec must be a mapping, got {type(spec).__name__}")
    version = int(spec.get("spec_version", SPEC_VERSION))
    if version > SPEC_VERSION:
        raise AccordError(
            f"this judge spec has spec_version {version}, newer than this accord understands "
            f"({SPEC_VERSION}); upgrade accord to load it"
        )
    kind = spec.get("kind", "instructions")
    if kind == "scorer":
        from accord.judges.scorers import scorer_from_dict

        return scorer_from_dict(spec, trusted=trusted)
    if kind == "pairwise":
        return (PairwisePreference if spec.get("class") == "PairwisePreference" else PairwiseJudge).from_dict(spec)
    if kind not in ("instructions", "builtin") and (loader := _kind_loader(kind)) is not None:
        return loader(spec)
    common = {"model": spec.get("model"), "inference_params": spec.get("inference_params")}
    if kind == "builtin":
        cls = BUILTIN_JUDGES.get(spec.get("class", ""))
        if cls is None:
            raise AccordError(f"unknown built-in judge class {spec.get('class')!r}")
        return cls(name=spec.get("name"), **spec.get("params", {}), **common)
    if kind != "instructions":
        raise AccordError(f"unknown judge kind {kind!r}")
    missing = [k for k in ("name", "instructions") if not spec.get(k)]
    if missing:
        raise AccordError(f"judge spec is missing {', '.join(missing)}")
    return make_judge(
        name=spec["name"],
        instructions=spec["instructions"],
        feedback_value_type=ValueType.of(spec.get("feedback_value_type") or "str"),
        description=spec.get("description"),
        **common,
    )


def judge_from_file(path: str | Path) -> Judge:
    """A judge from a YAML or JSON spec: name, instructions, model, feedback_value_type (or a built-in
    given as `builtin: RelevanceToQuery`), or a code-based scorer (`kind: scorer` with
    `python: package.module:function`, or `builtin: ExactMatch` and `params:`)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise AccordError(f"cannot read judge spec {path}: {exc.strerror}") from None
    try:
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", getattr(exc, "lineno", 0) - 1) + 1
        raise InputFileError(str(path), [(line, "(file)", f"not valid YAML/JSON: {exc}")], 1) from None
    if isinstance(spec, dict) and "builtin" in spec and spec.get("kind") != "scorer":
        builtin = spec.pop("builtin")
        spec = {"kind": "builtin", "class": builtin, "params": spec.pop("params", {}), **spec}
    try:
        return judge_from_dict(spec, trusted=True)  # the user named this file
    except (AccordError, ValueError, TypeError) as exc:
        raise AccordError(f"{path}: {exc}") from exc


def builtin_judge(name: str, **kwargs: Any) -> Judge:
    """A built-in judge by class name (`RelevanceToQuery`) or default name (`relevance_to_query`)."""
    if name in ("PairwisePreference", "pairwise_preference"):
        return PairwisePreference(**kwargs)
    cls = BUILTIN_JUDGES.get(name) or BUILTIN_BY_NAME.get(name)
    if cls is None:
        raise KeyError(name)
    return cls(**kwargs)


def with_value_type(judge: Judge, value_type: ValueType) -> Judge:
    """The same judge giving verdicts of `value_type` (a free-text judge narrowed to the verdicts its experts
    use), registered name and version kept; the judge itself when its kind fixes its verdicts."""
    if type(judge) is not Judge:
        return judge
    narrowed = judge_from_dict({**judge.to_dict(), "feedback_value_type": value_type.to_dict()})
    narrowed.version, narrowed.registered_name = judge.version, judge.registered_name
    return narrowed
