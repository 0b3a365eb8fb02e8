"""Registered judges: versioned JSON specs in the store (never pickles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accord.errors import AccordError, NotFoundError
from accord.judges import Judge, builtin_judge, judge_from_dict, judge_from_file
from accord.judges.base import JUDGE_ACTIONS
from accord.store import get_store
from accord.store.sql_store import JudgeRow


class JudgeVersion(JudgeRow):
    """A registered judge version as the registry lists it (the store's row, plus how it is shown)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "experiment_id": self.experiment_id,
            "tags": self.tags,
            "create_time_ms": self.create_time_ms,
            "kind": "damaged" if self.damaged else self.spec.get("kind", "instructions"),
            "damaged": self.damaged,
            "model": self.spec.get("model"),
            "feedback_value_type": self.spec.get("feedback_value_type"),
        }


def _row_to_version(row: JudgeRow) -> JudgeVersion:
    return JudgeVersion(**vars(row))


def register_judge(
    judge: Judge,
    name: str | None = None,
    experiment_id: str | None = None,
    tags: dict[str, str] | None = None,
) -> int:
    """Store `judge` as the next version of `name` (default: the judge's name) and return that version.
    The spec is written in one transaction, so a failure never leaves a half-written entry."""
    registry_name = name or judge.name
    tags = {k: str(v) for k, v in (tags or {}).items()}
    version = get_store().register_judge(registry_name, judge.to_dict(), experiment_id, tags)
    judge.version = version
    judge.registered_name = registry_name
    return version


JUDGE_ACTIONS["register"] = register_judge


def get_judge(name: str, version: int | None = None, experiment_id: str | None = None) -> Judge:
    """A registered judge, exactly as stored; the newest version when `version` is None. Its feedback name
    stays the one it was made with, even when registered under another name (e.g. "quality_aligned")."""
    row = get_store().get_judge_row(name, version)
    if row.damaged:
        raise AccordError(
            f"registered judge {row.name}@{row.version} is damaged in the registry ({row.damaged}); register it "
            f"again, or delete that version: accord.delete_judge({row.name!r}, {row.version})"
        )
    if experiment_id is not None and row.experiment_id not in (None, experiment_id):
        raise NotFoundError(f"judge {name!r} version {row.version} belongs to experiment {row.experiment_id}")
    try:
        judge = judge_from_dict(dict(row.spec))
    except AccordError as exc:
        raise AccordError(f"registered judge {row.name}@{row.version} cannot be loaded: {exc}") from None
    judge.version = row.version
    judge.registered_name = row.name
    return judge


def list_judges(experiment_id: str | None = None) -> list[JudgeVersion]:
    """The newest version of every registered judge."""
    newest: dict[str, JudgeVersion] = {}
    for row in get_store().list_judge_rows():
        if experiment_id is None or row.experiment_id in (None, experiment_id):
            newest[row.name] = _row_to_version(row)
    return list(newest.values())


def list_judge_versions(name: str) -> list[JudgeVersion]:
    rows = get_store().list_judge_rows(name)
    if not rows:
        raise NotFoundError(f"no judge named {name!r} is registered")
    return [_row_to_version(r) for r in rows]


def delete_judge(name: str, version: int | None = None) -> int:
    """Delete one version, or every version when `version` is None; returns how many were deleted."""
    store = get_store()
    store.get_judge_row(name, version)  # raises NotFoundError naming what exists
    return store.delete_judge(name, version)


def resolve_judge(ref: str) -> Judge:
    """A judge from the CLI: NAME or NAME@VERSION from the registry, a built-in, or a spec file."""
    if Path(ref).suffix in (".yaml", ".yml", ".json") and Path(ref).exists():
        return judge_from_file(ref)
    name, _, version = ref.partition("@")
    try:
        return get_judge(name, int(version) if version else None)
    except NotFoundError as not_registered:
        if version:
            raise
        try:
            return builtin_judge(name)
        except TypeError as exc:  # a built-in that needs parameters, such as Guidelines
            raise NotFoundError(
                f"the built-in judge {name!r} needs parameters ({exc}); register it from a spec file with "
                "`builtin: <ClassName>` and `params:`"
            ) from None
        except KeyError:
            raise NotFoundError(f"{not_registered}; {ref!r} is not a built-in judge or a spec file either") from None
