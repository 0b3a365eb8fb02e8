"""The review page over real HTTP on 127.0.0.1, on SQLite and PostgreSQL: pages, feedback, security."""

from __future__ import annotations

import threading

import httpx
import pytest

import accord
from accord import api
from accord.registry import list_judge_versions
from tests.review.conftest import XSS_OUTPUT, Populated, RunningServer, csrf_of, expert_label, human


def sign_in(client: httpx.Client, name: str) -> str:
    """Name the reviewer; returns the CSRF token the page's forms carry."""
    token = csrf_of(client)
    client.post("/reviewer", data={"name": name, "csrf": token})
    return token


def save_feedback(client: httpx.Client, trace_id: str, token: str, **fields: str) -> httpx.Response:
    return client.post(
        f"/trace/{trace_id}/feedback", data={**fields, "csrf": token}, headers={"Accept": "application/json"}
    )


def start(serve_review, populated: Populated, **settings) -> RunningServer:  # type: ignore[no-untyped-def]
    return serve_review(experiment=populated.experiment, judge="policy", **settings)


def human_feedback(trace_id: str) -> list:  # type: ignore[type-arg]
    trace = api.get_trace(trace_id)
    return trace.search_assessments(name="policy", type="feedback", source_type="HUMAN")


def test_queue_lists_unreviewed_traces_first(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        page = client.get("/queue")
    assert page.status_code == 200
    html = page.text
    assert "13 of 25 traces without feedback" in html
    first_reviewed = html.index("t000")  # reviewed traces come after every unreviewed one
    for unreviewed in ("t012", "t023", "xss"):
        assert html.index(unreviewed) < first_reviewed


def test_trace_page_shows_verdict_spans_and_other_reviewers(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        html = client.get("/trace/t003").text
    assert "I promise it arrives Friday (order 3)." in html
    assert 'id="judge-value">no<' in html
    assert "llm-call" in html and "<details" in html  # the span tree, collapsible
    assert "<b>ana</b>: no" in html  # earlier feedback from another reviewer


def test_feedback_saved_with_reviewer_as_source(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        token = sign_in(client, "bo")
        response = save_feedback(client, "t020", token, value="no", rationale="promises a date", experiment="support")
    assert response.status_code == 200, response.text
    assert response.json()["next"].startswith("/trace/")
    saved = human_feedback("t020")
    assert [(f.value, f.rationale, f.source.source_id) for f in saved] == [("no", "promises a date", "bo")]


def test_value_outside_the_judges_type_is_refused(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        response = save_feedback(client, "t020", sign_in(client, "bo"), value="maybe")
    assert response.status_code == 422
    assert "'maybe' is not one of ['yes', 'no']" in response.json()["error"]
    assert human_feedback("t020") == []


def test_post_without_csrf_token_is_refused(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated, reviewer="bo")
    with server.client() as client:
        csrf_of(client)
        response = client.post("/trace/t020/feedback", data={"value": "no"})
        forged = client.post(
            "/trace/t020/feedback", data={"value": "no", "csrf": "guess"}, headers={"Accept": "application/json"}
        )
    assert response.status_code == 403 and forged.status_code == 403
    assert "CSRF" in response.text
    assert human_feedback("t020") == []


def test_cross_site_origin_is_refused_even_with_cookie(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated, reviewer="bo")
    with server.client() as client:
        token = csrf_of(client)
        response = client.post(
            "/trace/t020/feedback",
            data={"value": "no", "csrf": token},
            headers={"Origin": "http://evil.example"},
        )
    assert response.status_code == 403
    assert human_feedback("t020") == []


def test_token_required_when_set(serve_review, populated: Populated) -> None:
    secret = "s3cret-token-for-tests-0123"
    server = start(serve_review, populated, token=secret)
    with server.client() as client:
        assert client.get("/queue").status_code == 401
        assert client.get("/queue?token=wrong").status_code == 401
        assert client.get("/static/review.js").status_code == 401
    with server.client(follow_redirects=True) as client:
        page = client.get(f"/queue?token={secret}")  # the link `accord review` prints
        assert page.status_code == 200 and "token=" not in str(page.url)
        assert client.get("/queue").status_code == 200  # now from the cookie
    with server.client(headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/queue").status_code == 200


def test_xss_payload_is_escaped(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        trace_html = client.get("/trace/xss").text
        queue_html = client.get("/queue").text
        headers = client.get("/queue").headers
    assert XSS_OUTPUT not in trace_html and "<script>window" not in trace_html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in trace_html
    assert "<img src=x" not in trace_html and "<img src=x" not in queue_html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in trace_html
    assert "script-src 'self'" in headers["content-security-policy"]


def test_two_reviewers_saving_at_the_same_moment_both_land(serve_review, populated: Populated) -> None:
    server = start(serve_review, populated)
    clients = [server.client() for _ in range(2)]
    tokens = [sign_in(client, name) for name, client in zip(("ana", "bo"), clients, strict=True)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def save(client: httpx.Client, token: str, value: str) -> None:
        barrier.wait()
        results.append(save_feedback(client, "t020", token, value=value).status_code)

    threads = [
        threading.Thread(target=save, args=(c, t, v)) for c, t, v in zip(clients, tokens, ("yes", "no"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert results == [200, 200]
    assert sorted((f.source.source_id, f.value) for f in human_feedback("t020")) == [("ana", "yes"), ("bo", "no")]


def test_alignment_view_shows_versions_and_reviewers(serve_review, populated: Populated) -> None:
    api.log_assessments([])  # nothing to add: scores come from what is stored
    server = start(serve_review, populated)
    with server.client() as client:
        html = client.get("/alignment").text
    assert "policy v1" in html
    assert "<svg" in html and "Cohen" in html
    assert 'class="confusion"' in html
    assert "1 reviewer(s): ana" in html
    assert '<a href="/trace/t007?' in html  # the judge let t007 pass; the disagreement links to the trace
    assert "Track order 7 online." in html  # and shows what was judged, not a bare id


def test_align_button_registers_a_new_version_and_scores_it(serve_review, populated: Populated) -> None:
    import time

    from accord.registry import get_judge

    api.log_assessments([human(f"t{i:03d}", expert_label(i), who="bo") for i in range(12, 20)])
    server = start(serve_review, populated)
    with server.client() as client:
        token = csrf_of(client)
        started = client.post(
            "/alignment/run",
            data={"csrf": token, "experiment": "support", "judge": "policy"},
            headers={"Accept": "application/json"},
        )
        assert started.json() == {"started": True}
        deadline = time.monotonic() + 180  # a background alignment: slow on 2 busy cores
        while (job := client.get("/alignment/job").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["state"] == "done", job
        assert job["result"]["version"] == "policy@2"
        assert job["total"] == job["done"] > 0
        html = client.get("/alignment?judge=policy").text
        assert "as a candidate" in html and 'id="promote"' in html  # registered, not yet in use
        assert get_judge("policy").version == 1
        form = {"csrf": token, "experiment": "support", "judge": "policy", "version": "policy@2"}
        outcome = client.post("/alignment/promote", data=form, headers={"Accept": "application/json"})
        if not outcome.json()["promoted"]:  # refused with both figures, shown to whoever clicked
            assert outcome.status_code == 409 and "agrees less" in outcome.json()["message"]
            assert "agrees less" in client.get("/alignment?judge=policy@2").text
            outcome = client.post(
                "/alignment/promote", data={**form, "force": "1"}, headers={"Accept": "application/json"}
            )
        assert outcome.json()["promoted"] and get_judge("policy").version == 2
    assert [v.version for v in list_judge_versions("policy")] == [1, 2]
    assert "policy v2 (aligned)" in html
    assert '<textarea name="guidelines"' in html and "verdict &#39;" in html  # distilled guidelines, editable
    assert 'id="decision"' in html and "Chosen: <strong>" in html  # what alignment chose, and why
    assert job["result"]["chosen"]


def test_guidelines_edit_registers_a_new_version(serve_review, populated: Populated) -> None:
    from accord.registry import get_judge

    aligned = populated.judge.align(api.search_traces(experiment_ids=[api.get_trace("t000").experiment_id]))
    aligned.register(name="policy")
    server = start(serve_review, populated)
    with server.client() as client:
        token = csrf_of(client)
        response = client.post(
            "/alignment/guidelines",
            data={"csrf": token, "experiment": "support", "judge": "policy@2", "guidelines": "never promise dates\n"},
        )
    assert response.status_code in (200, 303)
    latest = get_judge("policy")
    assert latest.version == 3
    assert latest.guidelines == ["never promise dates"]  # type: ignore[attr-defined]
    with server.client() as client:
        token = csrf_of(client)
        assert 'id="save-checks"' in client.get("/alignment?judge=policy").text
        response = client.post(
            "/alignment/checks",
            data={"csrf": token, "experiment": "support", "judge": "policy@3", "checks": "Does it promise a date?\n"},
        )
    assert response.status_code in (200, 303)
    edited = get_judge("policy")
    assert edited.version == 4 and [c.question for c in edited.checks] == ["Does it promise a date?"]  # type: ignore[attr-defined]


def test_align_button_with_too_little_feedback_says_so(serve_review, populated: Populated) -> None:
    import time

    api.delete_traces(["t000"])  # 11 labelled traces: enough to align, too few to also hold out a fifth
    server = start(serve_review, populated)
    with server.client() as client:
        token = csrf_of(client)
        client.post("/alignment/run", data={"csrf": token}, headers={"Accept": "application/json"})
        while (job := client.get("/alignment/job").json())["state"] in ("queued", "running"):
            time.sleep(0.05)
        html = client.get("/alignment").text
    assert job["state"] == "failed"
    assert "needs at least 10 labelled traces to learn from" in job["error"]
    assert "review a few more traces" in html
    assert [v.version for v in list_judge_versions("policy")] == [1]


@pytest.mark.parametrize("path", ["/queue?experiment=nope", "/trace/missing"])
def test_unknown_names_give_a_clear_404(serve_review, populated: Populated, path: str) -> None:
    server = start(serve_review, populated)
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert "nope" in response.text or "missing" in response.text


def test_ui_review_then_align_learns_from_that_feedback(serve_review, populated: Populated) -> None:
    """The reference workflow's "UI review" path: feedback given in the page, then `judge.align(traces)`."""
    server = start(serve_review, populated)
    with server.client() as client:
        token = sign_in(client, "dana")
        for i in range(12, 24):
            response = save_feedback(client, f"t{i:03d}", token, value=expert_label(i), rationale=f"page review {i}")
            assert response.status_code == 200, response.text
    experiment_id = api.get_trace("t012").experiment_id
    traces = api.search_traces(experiment_ids=[experiment_id])
    aligned = populated.judge.align(traces)
    learned = {e["trace_id"]: e["rationale"] for e in aligned.examples}  # type: ignore[attr-defined]
    assert {f"t{i:03d}" for i in range(12, 24)} <= set(learned)
    assert learned["t014"] == "page review 14"


def test_numeric_judge_takes_a_number_and_refuses_text(serve_review, store_uri: str) -> None:
    from accord.judges import make_judge
    from accord.store import get_store
    from tests.review.conftest import make_traces

    store = get_store()
    experiment = store.get_or_create_experiment("scores")
    store.insert_traces(make_traces(3), experiment.experiment_id)
    make_judge(name="helpfulness", instructions="Rate {{ outputs }} from 1 to 5.", feedback_value_type=int).register()
    server = serve_review(experiment="scores", judge="helpfulness", reviewer="kim")
    with server.client() as client:
        page = client.get("/trace/t001").text
        token = csrf_of(client)
        bad = client.post(
            "/trace/t001/feedback", data={"value": "high", "csrf": token}, headers={"Accept": "application/json"}
        )
        good = client.post(
            "/trace/t001/feedback", data={"value": "4", "csrf": token}, headers={"Accept": "application/json"}
        )
    assert 'type="number" step="1"' in page
    assert bad.status_code == 422 and "'high' is not an integer" in bad.json()["error"]
    assert good.status_code == 200
    saved = api.get_trace("t001").search_assessments(name="helpfulness", source_type="HUMAN")
    assert [(f.value, f.source.source_id) for f in saved] == [(4, "kim")]


def test_dns_rebinding_other_host_names_get_421_and_foreign_origins_are_refused(
    serve_review, populated: Populated
) -> None:
    server = start(serve_review, populated, reviewer="bo", allowed_hosts=["review.internal"])
    with server.client() as client:
        token = csrf_of(client)
        assert client.get("/queue", headers={"Host": "attacker.example"}).status_code == 421
        rebound = client.post(  # Host and Origin both the attacker's: what a rebinding page sends
            "/trace/t020/feedback",
            data={"value": "no", "csrf": token},
            headers={"Host": "attacker.example", "Origin": "http://attacker.example"},
        )
        assert rebound.status_code == 421
        for name in ("localhost", "[::1]", "review.internal"):
            assert client.get("/healthz", headers={"Host": f"{name}:8765"}).status_code == 200, name
        proxied = client.post(  # an allowed name, from an origin that is not one
            "/trace/t020/feedback",
            data={"value": "no", "csrf": token},
            headers={"Host": "review.internal", "Origin": "http://attacker.example"},
        )
        assert proxied.status_code == 403
    assert human_feedback("t020") == []


def test_a_request_never_makes_the_server_read_a_file(serve_review, populated: Populated, tmp_path) -> None:
    secret = tmp_path / "judge.yaml"
    secret.write_text("name: x\ninstructions: 'API_KEY=sk-live-123: {{ outputs }'\n")
    server = start(serve_review, populated)
    with server.client() as client:
        existing = client.get("/queue", params={"judge": str(secret)})
        missing = client.get("/queue", params={"judge": str(tmp_path / "nope.yaml")})
        relative = client.get("/queue", params={"judge": "judge.yaml"})
    assert existing.status_code == missing.status_code == relative.status_code == 404
    assert "sk-live" not in existing.text and "registered or built-in judge" in existing.text
    assert existing.text.replace("judge.yaml", "X") == missing.text.replace("nope.yaml", "X")  # nothing tells


def test_a_double_slash_path_never_redirects_off_site(serve_review, populated: Populated) -> None:
    secret = "s3cret-token-for-tests-0123"
    server = start(serve_review, populated, token=secret)
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(server.url)
    for path in ("//evil.example/", "/\\evil.example/", "//evil.example/queue"):
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        connection.request("GET", f"{path}?token={secret}")  # sent as written: no client tidies the path
        response = connection.getresponse()
        location = response.getheader("location") or ""
        connection.close()
        assert response.status in (303, 404), (path, response.status)
        assert not location.startswith(("//", "/\\", "http")), (path, location)


def test_trace_ids_with_a_slash_open_and_take_feedback(serve_review, populated: Populated) -> None:
    from accord.entities import Trace
    from accord.store import get_store

    store = get_store()
    experiment = store.get_or_create_experiment("support")
    store.insert_traces(
        [Trace(trace_id="orders/2026/7", inputs={"q": "where?"}, outputs="on its way")], experiment.experiment_id
    )
    server = start(serve_review, populated, reviewer="bo")
    with server.client() as client:
        token = csrf_of(client)
        page = client.get("/trace/orders/2026/7", params={"experiment": "support", "judge": "policy"})
        assert page.status_code == 200 and "on its way" in page.text
        saved = client.post(
            "/trace/orders/2026/7/feedback",
            data={"value": "yes", "csrf": token, "experiment": "support", "judge": "policy"},
            headers={"Accept": "application/json"},
        )
        assert saved.status_code == 200, saved.text
    assert [f.value for f in human_feedback("orders/2026/7")] == ["yes"]


def test_without_a_judge_reviewers_label_under_the_feedback_name_on_the_traces(serve_review, store_uri: str) -> None:
    from accord.store import get_store
    from tests.review.conftest import make_traces

    store = get_store()
    experiment = store.get_or_create_experiment("unjudged")
    traces = make_traces(6)
    store.insert_traces(traces, experiment.experiment_id)
    store.log_assessments([human("t000", "no"), human("t001", "yes")])  # experts began labelling "policy"
    server = serve_review(experiment="unjudged")  # no --judge, and none registered
    with server.client() as client:
        queue = client.get("/queue")
        assert queue.status_code == 200, queue.text
        assert 'labelling <b id="feedback-name">policy</b>' in queue.text
        assert "5 of 7 traces without feedback named policy" in queue.text  # 6 traces and the XSS one
        page = client.get("/trace/t002?feedback=policy")
        assert page.status_code == 200 and 'value="no"' in page.text and 'value="yes"' in page.text
        token = sign_in(client, "kim")
        saved = save_feedback(client, "t002", token, value="yes", experiment="unjudged", feedback="policy")
        assert saved.status_code == 200, saved.text
        assert saved.json()["next"].startswith("/trace/") and "feedback=policy" in saved.json()["next"]
        new_value = save_feedback(client, "t003", token, value_other="unsure", experiment="unjudged", feedback="policy")
        assert new_value.status_code == 200, new_value.text
        alignment = client.get("/alignment")
        assert alignment.status_code == 404 and "name one with ?judge=" in alignment.text
    assert [(f.value, f.source.source_id) for f in human_feedback("t002")] == [("yes", "kim")]
    assert human_feedback("t003")[0].value == "unsure"


def test_without_any_feedback_yet_the_page_asks_for_a_name_first(serve_review, store_uri: str) -> None:
    from accord.store import get_store
    from tests.review.conftest import make_traces

    store = get_store()
    store.insert_traces(make_traces(3), store.get_or_create_experiment("fresh").experiment_id)
    server = serve_review(experiment="fresh")
    with server.client() as client:
        queue = client.get("/queue")
        assert queue.status_code == 200 and 'id="name-hint"' in queue.text and "t001" in queue.text
        token = sign_in(client, "kim")
        refused = save_feedback(client, "t001", token, value_other="ok", experiment="fresh")
        assert refused.status_code == 400 and "feedback name" in refused.text
        bad = client.get("/queue?feedback=%3Cscript%3E")
        assert bad.status_code == 404 and "<script>" not in bad.text
        chosen = client.get("/queue?feedback=tone")
        assert chosen.status_code == 200 and "4 of 4 traces without feedback named tone" in chosen.text
        saved = save_feedback(client, "t001", token, value_other="friendly", experiment="fresh", feedback="tone")
        assert saved.status_code == 200, saved.text
    labels = api.get_trace("t001").search_assessments(name="tone", source_type="HUMAN")
    assert [(f.value, f.source.source_id) for f in labels] == [("friendly", "kim")]


def test_the_alignment_view_charts_what_accord_monitor_measured(serve_review, populated: Populated) -> None:
    from accord.monitoring import Alert, Monitor

    monitor = Monitor(populated.experiment, populated.judge, alerts=[Alert.parse("no_rate>0.2")], emit=lambda _: None)
    monitor.cycle()
    monitor.cycle()
    server = start(serve_review, populated)
    with server.client() as client:
        html = client.get("/alignment?judge=policy").text
    assert 'id="monitor"' in html and '<polyline class="series s0"' in html
    assert "Alerts firing: no_rate&gt;0.2" in html  # escaped, like all content on the page


def test_a_very_deep_span_chain_and_a_parent_cycle_show_every_span(serve_review, populated: Populated) -> None:
    from typer.testing import CliRunner

    from accord.cli import app
    from accord.entities import Span, Trace
    from accord.judges.rendering import render_span_tree
    from accord.store import get_store

    chain = [
        Span(span_id=f"s{i}", parent_id=f"s{i - 1}" if i else None, name=f"step{i}", start_time_ms=i)
        for i in range(1500)
    ]
    cycle = [
        Span(span_id="a", parent_id="b", name="first", start_time_ms=1),
        Span(span_id="b", parent_id="a", name="second", start_time_ms=2),
    ]
    store = get_store()
    experiment = store.resolve_experiment(populated.experiment)
    store.insert_traces(
        [
            Trace(trace_id="deep", inputs="q", outputs="a", spans=chain),
            Trace(trace_id="loop", inputs="q", outputs="a", spans=cycle),
        ],
        experiment.experiment_id,
    )
    assert render_span_tree(cycle) == "- first [UNKNOWN]\n  - second [UNKNOWN]"
    assert render_span_tree(chain, limit=10**7).count("\n") == 1499
    shown = CliRunner().invoke(app, ["traces", "show", "deep"])
    assert shown.exit_code == 0 and "step0" in shown.output and "Traceback" not in shown.output
    server = start(serve_review, populated)
    with server.client() as client:
        deep = client.get("/trace/deep")
        loop = client.get("/trace/loop")
    assert deep.status_code == 200 and "step1499" in deep.text and "depth 1499" in deep.text
    assert loop.status_code == 200 and "first" in loop.text and "second" in loop.text


def test_a_declared_label_schema_is_what_the_page_offers_and_accepts(serve_review, store_uri: str) -> None:
    """Labelling without a judge: with a schema declared (`accord feedback schema`), the page offers the
    schema's values, including those nobody has used yet, and a value outside them is refused, not saved."""
    from accord.store import get_store
    from tests.review.conftest import make_traces

    store = get_store()
    experiment = store.get_or_create_experiment("schemed")
    store.insert_traces(make_traces(4), experiment.experiment_id)
    store.log_assessments([human("t000", "good")])
    assert accord.set_label_schema("policy", "Literal['good', 'fair', 'poor']", experiment="schemed") == []
    server = serve_review(experiment="schemed", feedback="policy")
    with server.client() as client:
        page = client.get("/trace/t001?feedback=policy")
        assert page.status_code == 200
        assert all(f'value="{v}"' in page.text for v in ("good", "fair", "poor"))  # 'poor' was never used
        assert 'id="value-other"' not in page.text  # no box for a new class
        token = sign_in(client, "kim")
        typo = save_feedback(client, "t001", token, value="godo", experiment="schemed", feedback="policy")
        assert typo.status_code == 422 and "'godo' is not one of ['good', 'fair', 'poor']" in typo.text
        saved = save_feedback(client, "t001", token, value="poor", experiment="schemed", feedback="policy")
        assert saved.status_code == 200, saved.text
    assert [f.value for f in human_feedback("t001")] == ["poor"]


def test_a_verdict_links_the_nearest_labelled_cases_it_names(serve_review, populated: Populated) -> None:
    from accord.store import get_store

    verdict = [
        a
        for a in get_store().search_assessments(name="policy", source_type="LLM_JUDGE", trace_ids=["t004"])
        if a.kind == "feedback"
    ][-1]
    nearest = [{"trace_id": "t003", "value": "no", "similarity": 0.912}, {"trace_id": "t001", "value": "yes"}]
    api.log_assessments(
        [verdict.model_copy(update={"assessment_id": "near-1", "metadata": {**verdict.metadata, "retrieved": nearest}})]
    )
    server = start(serve_review, populated)
    with server.client() as client:
        html = client.get("/trace/t004").text
    assert 'id="nearest"' in html and '<a href="/trace/t003?' in html and "(no, similarity 0.91)" in html
    assert '<a href="/trace/t001?' in html


def test_a_review_can_require_a_rationale_when_the_expert_disagrees_or_always(
    serve_review, populated: Populated
) -> None:
    server = start(serve_review, populated, rationale="disagreement")
    with server.client() as client:
        token = sign_in(client, "bo")
        refused = save_feedback(client, "t003", token, value="yes")  # the judge said "no"
        assert refused.status_code == 422 and "you disagree with the judge (no)" in refused.text
        agreeing = save_feedback(client, "t006", token, value="no")  # the judge said "no" here too
        assert agreeing.status_code == 200, agreeing.text
        reasoned = save_feedback(client, "t003", token, value="yes", rationale="only tracking advice")
        assert reasoned.status_code == 200, reasoned.text
    assert [f.value for f in human_feedback("t003") if f.source.source_id == "bo"] == ["yes"]
    strict = start(serve_review, populated, rationale="always")
    with strict.client() as client:
        refused = save_feedback(client, "t009", sign_in(client, "cy"), value="no")
        assert refused.status_code == 422 and "with every label" in refused.text
    with pytest.raises(ValueError, match="rationale must be one of nudge, disagreement, always"):
        start(serve_review, populated, rationale="sometimes")
