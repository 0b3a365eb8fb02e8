"""The review page in a real headless Chromium: keyboard and mouse feedback, escaping, forgery, screenshots."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from accord import api
from accord.evaluation import evaluate
from accord.registry import get_judge
from tests.review.conftest import XSS_OUTPUT, Populated, RunningServer, expert_label, free_port, human

# the README's screenshots are rewritten only when asked (ACCORD_UPDATE_SCREENSHOTS=1): tests write nothing
# into the tracked tree
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(params=["sqlite"])
def store_uri(request: pytest.FixtureRequest) -> str:  # the browser tests run on SQLite; pages.py covers both
    from accord.store import get_store

    return get_store().uri


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def server(serve_review: Any, populated: Populated) -> RunningServer:
    return serve_review(experiment=populated.experiment, judge="policy")


def sign_in(page: Any, server: RunningServer, name: str) -> None:
    page.goto(server.url + "/queue")
    page.fill("form.reviewer input[name=name]", name)
    page.click("form.reviewer button")
    page.wait_for_load_state()


def left(page: Any, trace_id: str) -> None:
    """Wait until the browser has moved on from this trace's page."""
    page.wait_for_url(lambda url: urlsplit(url).path != f"/trace/{trace_id}")


def stored(trace_id: str) -> list[tuple[str, Any, str | None]]:
    found = api.get_trace(trace_id).search_assessments(name="policy", type="feedback", source_type="HUMAN")
    return [(f.source.source_id, f.value, f.rationale) for f in found]


def test_feedback_by_keyboard(page: Any, server: RunningServer) -> None:
    sign_in(page, server, "kim")
    page.keyboard.press("Enter")  # opens the first trace to review
    page.wait_for_url("**/trace/**")
    first = page.locator(".review").get_attribute("data-trace")
    page.keyboard.press("1")
    page.keyboard.press("n")  # changes it to "no"
    page.keyboard.press("r")
    page.keyboard.type("Promises a delivery date.")
    page.keyboard.press("Control+Enter")
    left(page, first)
    assert stored(first) == [("kim", "no", "Promises a delivery date.")]
    # the next trace opened, saying the save went through and where it is in the queue
    second = page.locator(".review").get_attribute("data-trace")
    assert second != first
    assert f"Saved your verdict on {first}" in page.text_content("#saved-notice")
    assert page.text_content("#position").startswith("Trace ")
    # j skips it; k goes back to the trace before, not to the queue, so a save can be changed
    page.keyboard.press("j")
    left(page, second)
    page.keyboard.press("k")
    page.wait_for_url(f"**/trace/{second}**")
    page.keyboard.press("k")
    page.wait_for_url("**/queue**")


def test_disagreeing_with_the_judge_without_a_reason_is_nudged_once(page: Any, server: RunningServer) -> None:
    sign_in(page, server, "kim")
    page.goto(server.url + "/trace/t012")
    says = page.get_attribute("#feedback", "data-judge-says")
    assert says in ("yes", "no")
    other = "no" if says == "yes" else "yes"
    page.click(f"label.choice >> text={other.capitalize()}")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#save-status.nudge")
    assert "a reason teaches it most" in page.text_content("#save-status")
    assert stored("t012") == [] and page.evaluate("document.activeElement.id") == "rationale"
    page.keyboard.press("Control+Enter")  # saving again goes through without one
    left(page, "t012")
    assert stored("t012") == [("kim", other, None)]


def test_feedback_by_mouse(page: Any, server: RunningServer) -> None:
    sign_in(page, server, "lee")
    page.click("a.open >> text=t015")
    page.click("label.choice >> text=Yes")
    page.fill("#rationale", "Only points to tracking.")
    page.click("#save")
    left(page, "t015")
    assert stored("t015") == [("lee", "yes", "Only points to tracking.")]


def test_failed_save_keeps_typed_text(page: Any, server: RunningServer) -> None:
    sign_in(page, server, "kim")
    page.goto(server.url + "/trace/t016")
    page.click("label.choice >> text=No")
    page.fill("#rationale", "A long careful explanation.")
    page.route("**/feedback", lambda route: route.abort())  # the network fails
    page.click("#save")
    page.wait_for_selector("#save-status.error")
    assert "Not saved" in page.text_content("#save-status")
    assert page.input_value("#rationale") == "A long careful explanation."
    page.reload()  # even a reload keeps the draft
    assert page.input_value("#rationale") == "A long careful explanation."
    page.unroute("**/feedback")
    page.click("#save")
    left(page, "t016")
    assert stored("t016") == [("kim", "no", "A long careful explanation.")]


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_xss_payload_renders_as_text(chromium: Any, server: RunningServer, bypass_csp: bool) -> None:
    context = chromium.new_context(bypass_csp=bypass_csp)  # escaping must hold even without the CSP
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/trace/xss")
    assert page.text_content("#outputs") == XSS_OUTPUT
    assert page.evaluate("window.__pwned") is None
    page.goto(server.url + "/queue")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []
    context.close()


class _EvilSite(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (
            f'<form id="f" method="post" action="{self.target}"><input name="value" value="no">'
            '<input name="csrf" value="guess"></form><script>document.getElementById("f").submit()</script>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_forged_cross_site_post_is_refused(page: Any, server: RunningServer) -> None:
    sign_in(page, server, "kim")  # a signed-in reviewer with cookies set
    handler = type("Evil", (_EvilSite,), {"target": server.url + "/trace/t020/feedback"})
    evil = HTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        response_status: list[int] = []
        page.on("response", lambda r: response_status.append(r.status) if r.url.endswith("/feedback") else None)
        page.goto(f"http://localhost:{evil.server_address[1]}/")
        page.wait_for_url("**/feedback")
    finally:
        evil.shutdown()
    assert response_status == [403]
    assert "CSRF" in page.text_content("body")
    assert stored("t020") == []


def test_screenshots(page: Any, server: RunningServer, populated: Populated, tmp_path: Path) -> None:
    """The queue, a trace and the alignment view, saved for the README when ACCORD_UPDATE_SCREENSHOTS=1."""
    SCREENSHOTS = DOCS_SCREENSHOTS if os.environ.get("ACCORD_UPDATE_SCREENSHOTS") == "1" else tmp_path  # noqa: N806
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, server, "kim")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=False)
    page.goto(server.url + "/trace/t007")  # the judge says yes, another reviewer said no
    page.click("label.choice >> text=No")
    page.fill("#rationale", "Asks the customer to track it themselves; policy 4 says we look it up for them.")
    page.screenshot(path=str(SCREENSHOTS / "trace.png"), full_page=False)
    # more feedback, a second reviewer, an aligned version scored on traces it did not learn from
    api.log_assessments([human(f"t{i:03d}", expert_label(i), who="bo") for i in range(12, 24)])
    api.log_assessments([human(f"t{i:03d}", expert_label(i), who="kim") for i in range(6, 12)])
    labelled = [api.get_trace(f"t{i:03d}") for i in range(24)]
    aligned = populated.judge.align(labelled[:16])
    aligned.register(name="policy")
    evaluate(labelled[16:], [get_judge("policy", 1), get_judge("policy", 2)], show_progress=False)
    page.goto(server.url + "/alignment")
    assert page.locator("svg.chart").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "alignment.png"), full_page=True)
    for name in ("queue", "trace", "alignment"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


def test_labelling_under_a_declared_schema_offers_its_values_by_key(page: Any, serve_review: Any) -> None:
    """Without a judge: a label schema's values are the buttons (one nobody has used yet included), keys
    choose them, and there is no box for a new class."""
    import accord
    from accord.store import get_store
    from tests.review.conftest import make_traces

    experiment = get_store().get_or_create_experiment("schemed")
    get_store().insert_traces(make_traces(3), experiment.experiment_id)
    accord.set_label_schema("tone", "Literal['warm', 'neutral', 'curt']", experiment="schemed")
    server = serve_review(experiment="schemed", feedback="tone")
    sign_in(page, server, "kim")
    page.goto(server.url + "/trace/t001?feedback=tone")
    choices = [" ".join(t.split()) for t in page.locator("label.choice").all_text_contents()]
    assert choices == ["1 warm", "2 neutral", "3 curt"]
    assert page.locator("#value-other").count() == 0
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    left(page, "t001")
    labels = api.get_trace("t001").search_assessments(name="tone", source_type="HUMAN")
    assert [(f.source.source_id, f.value) for f in labels] == [("kim", "curt")]


def test_a_review_that_requires_a_reason_on_disagreement_refuses_without_one(
    page: Any, serve_review: Any, populated: Populated
) -> None:
    server = serve_review(experiment=populated.experiment, judge="policy", rationale="disagreement")
    sign_in(page, server, "kim")
    page.goto(server.url + "/trace/t012")
    says = page.get_attribute("#feedback", "data-judge-says")
    other = "no" if says == "yes" else "yes"
    page.click(f"label.choice >> text={other.capitalize()}")
    page.keyboard.press("Control+Enter")  # the nudge
    page.wait_for_selector("#save-status.nudge")
    page.keyboard.press("Control+Enter")  # again: this review refuses it
    page.wait_for_selector("#save-status.error")
    assert "you disagree with the judge" in page.text_content("#save-status") and stored("t012") == []
    page.fill("#rationale", "It promises nothing.")
    page.click("#save")
    left(page, "t012")
    assert stored("t012") == [("kim", other, "It promises nothing.")]
