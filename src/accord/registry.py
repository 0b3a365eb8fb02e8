"""Registered judges: versioned JSON specs in the store (never pickles), and aliases that name versions.

As in MLflow's model registry, an alias ("champion") points at one version and a bare judge name means its
champion when one is set. The first version of a name becomes its champion; later versions (an alignment's
candidates) change nothing in use until promoted, and promoting a version that agrees less with the experts
on held-out traces than the champion is refused unless forced.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.errors import AccordError, NotFoundError
from accord.judges import Judge, builtin_judge, judge_from_dict, judge_from_file
from accord.judges.base import CHAMPION
from accord.store import get_store
from accord.store.sql_store import JudgeRow

if TYPE_CHECKING:
    from accord.metrics import Agreement


class JudgeVersion(JudgeRow):
    """A registered judge version as the registry lists it (the store's row, plus how it is shown)."""

    aliases: tuple[str, ...] = ()  # the aliases that point at this version, read once per listing

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
            "aliases": list(self.aliases),
        }


def _row_to_version(row: JudgeRow, aliases: dict[str, dict[str, int]]) -> JudgeVersion:
    version = JudgeVersion(**vars(row))
    version.aliases = tuple(sorted(a for a, v in aliases.get(row.name, {}).items() if v == row.version))
    return version


_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")


def register_judge(
    judge: Judge,
    name: str | None = None,
    experiment_id: str | None = None,
    tags: dict[str, str] | None = None,
    champion: bool = False,
) -> int:
    """Store `judge` as the next version of `name` (default: the judge's name) and return that version
    (`Judge.register`). The version becomes the champion when `champion` is true or when the name has no
    champion yet."""
    return judge.register(name, experiment_id, tags, champion)


def set_alias(name: str, alias: str, version: int) -> None:
    """Point `alias` (e.g. "champion", "candidate") of judge `name` at `version`, as MLflow's
    `set_registered_model_alias` does. Use `promote` to make a version champion with the agreement check."""
    if not _ALIAS.match(alias):
        raise AccordError(f"an alias starts with a letter and has letters, digits, '-' or '_' only, not {alias!r}")
    get_store().get_judge_row(name, version)  # raises NotFoundError naming what exists
    get_store().set_judge_alias(name, alias, version)


def delete_alias(name: str, alias: str) -> None:
    if not get_store().delete_judge_alias(name, alias):
        raise NotFoundError(f"judge {name!r} has no alias {alias!r}")


def get_aliases(name: str) -> dict[str, int]:
    """The aliases of judge `name` and the versions they point at."""
    return get_store().judge_aliases(name).get(name, {})


def _version_of(name: str, version: int | str | None) -> int | None:
    """A version number from a number, an alias, or None (the champion, else the newest)."""
    if isinstance(version, int):
        return version
    if version is None:
        return get_aliases(name).get(CHAMPION)
    if version.isdigit():
        return int(version)
    found = get_aliases(name).get(version)
    if found is None:
        known = ", ".join(f"@{a}" for a in get_aliases(name)) or "none"
        raise NotFoundError(f"judge {name!r} has no alias {version!r} (aliases: {known})")
    return found


def get_judge(name: str, version: int | str | None = None, experiment_id: str | None = None) -> Judge:
    """A registered judge, exactly as stored: `version` is a number or an alias ("champion"); None means the
    champion when one is set, else the newest version. Its feedback name stays the one it was made with,
    even when registered under another name (e.g. "quality_aligned")."""
    row = get_store().get_judge_row(name, _version_of(name, version))
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
    aliases = get_store().judge_aliases()
    for row in get_store().list_judge_rows():
        if experiment_id is None or row.experiment_id in (None, experiment_id):
            newest[row.name] = _row_to_version(row, aliases)
    return list(newest.values())


def list_judge_versions(name: str) -> list[JudgeVersion]:
    rows = get_store().list_judge_rows(name)
    if not rows:
        raise NotFoundError(f"no judge named {name!r} is registered")
    aliases = get_store().judge_aliases(name)
    return [_row_to_version(r, aliases) for r in rows]


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
        return get_judge(name, version or None)
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


def promote(
    name: str,
    version: int,
    traces: Any = None,
    force: bool = False,
    alias: str = CHAMPION,
    show_progress: bool = False,
    measured: tuple[Agreement, Agreement] | None = None,
) -> dict[str, Any]:
    """Make `version` the judge's champion (or `alias`). When another version holds it, both are scored on
    `traces` (an experiment or traces; default: the candidate's experiment) that neither learned from, and
    a candidate that agrees less is refused unless `force`. `measured`: the holder's and the candidate's
    agreement already measured on the same held-out traces (alignment's own before/after), used instead of
    scoring them again. Returns both figures and what was done."""
    from accord.agreement import compare
    from accord.errors import PromotionRefused

    get_judge(name, version)  # the candidate exists: a promotion of an unknown version fails here
    current = get_aliases(name).get(alias)
    result: dict[str, Any] = {"name": name, "alias": alias, "version": version, "previous": current}
    if current is not None and current != version:
        source = traces if traces is not None else get_store().get_judge_row(name, version).experiment_id
        if measured is None and source is None:
            if not force:
                raise PromotionRefused(
                    f"cannot compare {name}@{version} with {name}@{alias} (version {current}): name an experiment "
                    "to score both on, or force the promotion"
                )
        else:
            if measured is None:
                found = compare(get_judge(name, current), get_judge(name, version), source, show_progress=show_progress)
                measured = (found.before.agreement, found.after.agreement)
            before, after = measured
            result.update(
                {
                    "traces": after.n,
                    "champion_kappa": before.cohen_kappa,
                    "champion_kappa_ci": list(before.kappa_ci),
                    "candidate_kappa": after.cohen_kappa,
                    "candidate_kappa_ci": list(after.kappa_ci),
                }
            )
            if after.cohen_kappa < before.cohen_kappa and not force:
                raise PromotionRefused(
                    f"{name}@{version} agrees less with the experts than {name}@{alias} (version {current}) on "
                    f"{after.n} traces neither learned from: Cohen's kappa {after.kappa_text()} against "
                    f"{before.kappa_text()}; not promoted (force it to promote anyway)",
                    figures=result,
                )
    get_store().set_judge_alias(name, alias, version)
    result["promoted"] = True
    return result
