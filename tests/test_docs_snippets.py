"""Every Python snippet in the README and the docs runs as written, on the scripted fake model.

A page's blocks run in order in one namespace, as a reader types them one after the other. Where a page
continues from a setup it describes in words ("your judge", "the support experiment"), the test gives those
names first: PRELUDES says which, per page. Nothing else is added to what the page shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import accord
from accord.llm import fake

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _everything_answers() -> None:
    """The default fake model: a valid verdict for any judge (a scale's 'good', else 'yes')."""
    fake.script(
        "",
        lambda request: {"rationale": "fine", "result": "good" if "excellent" in str(request.json_schema) else "yes"},
    )


def _support_experiment() -> dict[str, Any]:
    """`judge` and the experiment "support" its pages refer to: labelled policy answers, a policy judge."""
    from tests.align.helpers import labelled_traces
    from tests.align.test_checks import _judge, checking_model

    checking_model()
    experiment = accord.set_experiment("support")
    from accord.store import get_store

    get_store().insert_traces(labelled_traces(24), experiment.experiment_id)
    test_traces = labelled_traces(10, prefix="held-out-")
    return {"accord": accord, "judge": _judge(), "experiment": experiment, "test_traces": test_traces}


def _policy_file() -> dict[str, Any]:
    Path("POLICY.md").write_text(
        "1. Support answers never promise a refund, replacement or credit.\n"
        "2. Answers explain the returns form or the claim process.\n"
    )
    return _support_experiment()


PRELUDES: dict[str, Callable[[], dict[str, Any]]] = {
    "docs/guides/aligning.md": _policy_file,
    "docs/guides/integrations.md": _support_experiment,
    "docs/guides/scorers-pairwise-monitoring.md": _support_experiment,
}


def _pages_with_python() -> list[Path]:
    return [page for page in PAGES if BLOCK.search(page.read_text())]


@pytest.mark.parametrize("page", _pages_with_python(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_of_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _everything_answers()
    name = str(page.relative_to(ROOT))
    namespace: dict[str, Any] = PRELUDES[name]() if name in PRELUDES else {}
    blocks = BLOCK.findall(page.read_text())
    try:
        for number, block in enumerate(blocks, start=1):
            exec(compile(block, f"{name} python block {number}", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        _stop_local_ray()
    assert blocks


def _stop_local_ray() -> None:
    """A snippet that ran on a local Ray leaves it running; the Ray tests connect to their own head."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
