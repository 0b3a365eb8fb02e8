"""The README's Python tour runs as written (on the scripted fake model)."""

import re
from pathlib import Path

from accord.llm import fake

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_tour_runs() -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    fake.script(
        "",
        lambda request: {"rationale": "fine", "result": "good" if "excellent" in str(request.json_schema) else "yes"},
    )
    namespace: dict = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["result"].summary()["errors"] == 0
    assert namespace["human"][0].value == "fair"
    assert namespace["human"][0].overrides is not None


def test_every_python_snippet_in_the_readme_and_the_docs_is_valid_python_and_every_link_resolves() -> None:
    root = README.parent
    pages = [README, *sorted((root / "docs").rglob("*.md"))]
    for page in pages:
        text = page.read_text()
        for number, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S), start=1):
            compile(block, f"{page.relative_to(root)} python block {number}", "exec")
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)\)", README.read_text()):
        assert (root / target).exists(), target
