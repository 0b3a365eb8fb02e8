"""The review web app: a queue of traces, a page per trace to give feedback, and the alignment view.

Server-rendered with Jinja2 (autoescaping on, so trace content always renders as text); one small script
adds keyboard shortcuts and saving without a page reload. Feedback goes through `accord.log_feedback`,
exactly as from code, with the reviewer's name as the source id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from accord.align.memalign.judge import MemAlignJudge
from accord.api import log_feedback
from accord.entities import AssessmentSource, AssessmentSourceType
from accord.errors import AccordError, NotFoundError, PromotionRefused
from accord.judges import Judge
from accord.registry import get_judge, promote, register_judge, resolve_judge
from accord.review import charts
from accord.review.context import Context, resolve_context
from accord.review.dashboard import build_dashboard
from accord.review.jobs import JobRunner
from accord.review.presenting import pretty, preview, span_tree, value_label
from accord.review.queue import PAGE_SIZE, QueueRegistry
from accord.store import get_store
from accord.web.security import CSRF_FIELD, allowed_hosts, csrf_token, security_middleware

HERE = Path(__file__).parent
RATIONALE_RULES = ("nudge", "disagreement", "always")
REVIEWER_COOKIE = "accord_reviewer"
_REVIEWER_NAME = re.compile(r"^[\w .@\-]{1,64}$")


_JUDGE_REF = re.compile(r"[\w.\-]{1,200}(@\d{1,9})?")


def _is_spec_file(ref: str) -> bool:
    return Path(ref).suffix.lower() in (".yaml", ".yml", ".json")


@dataclass
class ReviewSettings:
    experiment: str | None = None  # shown when a URL names none
    judge: str | None = None  # NAME, NAME@VERSION, a built-in or a spec file
    feedback: str | None = None  # without a judge: the feedback name to collect labels under
    token: str | None = None
    reviewer: str | None = None  # the default reviewer name
    host: str = "127.0.0.1"  # the address it binds: answered as a host name too
    allowed_hosts: list[str] = field(default_factory=list)  # further host names it answers for (--allowed-host)
    # when a label needs a rationale: "nudge" (asked once when it differs from the judge's verdict, then saved
    # anyway), "disagreement" (refused without one when it differs), "always" (every label)
    rationale: str = "nudge"

    def __post_init__(self) -> None:
        if self.rationale not in RATIONALE_RULES:
            raise ValueError(f"rationale must be one of {', '.join(RATIONALE_RULES)}, not {self.rationale!r}")


def _rationale_missing(rule: str, trace_id: str, name: str, value: Any) -> str | None:
    """Why a label without a rationale is refused under `rule`, or None when it may be saved."""
    if rule == "always":
        return "give a rationale: this review asks for one with every label (alignment learns from reasons)"
    if rule != "disagreement":
        return None
    verdicts = get_store().search_assessments(name=name, source_type="LLM_JUDGE", trace_ids=[trace_id])
    judged = [v for v in verdicts if v.kind == "feedback" and v.error is None and v.value is not None]
    if judged and value_label(judged[-1].value) != value_label(value):
        return (
            f"give a rationale: you disagree with the judge ({value_label(judged[-1].value)}), and this review asks "
            "for a reason whenever you do"
        )
    return None


def create_app(settings: ReviewSettings | None = None) -> FastAPI:
    settings = settings or ReviewSettings()
    app = FastAPI(title="accord review", debug=False, docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(security_middleware(settings.token, allowed_hosts(settings.host, settings.allowed_hosts)))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(pretty=pretty, preview=preview, value_label=value_label, charts=charts)
    queues = QueueRegistry(get_store())
    jobs = JobRunner()

    def reviewer_of(request: Request) -> str | None:
        name = request.cookies.get(REVIEWER_COOKIE) or settings.reviewer
        return name if name and _REVIEWER_NAME.match(name) else None

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.update(reviewer=reviewer_of(request), csrf=csrf_token(request), csrf_field=CSRF_FIELD)
        return templates.TemplateResponse(request, template, context, status_code=status)

    def resolve(experiment: str | None, judge: str | None, feedback: str | None = None) -> Context:
        if not judge and not feedback:
            judge, feedback = settings.judge, settings.feedback
        return resolve_context(get_store(), judge_for, experiment or settings.experiment, judge, feedback)

    def with_judge(ctx: Context) -> Judge:
        if ctx.judge is None:
            names = ", ".join(ctx.judges) or "none registered yet"
            raise NotFoundError(
                f"the alignment view is a judge's: name one with ?judge= (registered: {names}); make one from the "
                "labels with `accord judges create FILE`"
            )
        return ctx.judge

    registered_judges: dict[tuple[str, int, int], Judge] = {}

    # A spec file is for the command line: `accord review --judge FILE` loads it once here. A request only
    # names registered or built-in judges, so it can never make the server read a path of its choosing.
    started_with = resolve_judge(settings.judge) if settings.judge and _is_spec_file(settings.judge) else None

    def judge_for(ref: str) -> Judge:
        """A registered judge is read and rebuilt once per version, not per request: an aligned one carries
        its whole episodic memory. Built-in judges by name."""
        if started_with is not None and ref == settings.judge:
            return started_with
        name, _, version = ref.partition("@")
        if not _JUDGE_REF.fullmatch(ref) or _is_spec_file(ref):
            raise NotFoundError(
                f"no registered or built-in judge {ref!r}: the review page takes a judge's name or NAME@VERSION "
                "(register a spec file with `accord judges create FILE`)"
            )
        stamp = get_store().judge_stamp(name, int(version) if version else None)
        if stamp is None:
            return resolve_judge(name if not version else ref)  # a built-in, or a clear error naming what exists
        key = (name, *stamp)
        if key not in registered_judges:
            registered_judges[key] = get_judge(name, stamp[0])
        return registered_judges[key]

    @app.exception_handler(AccordError)
    async def accord_error(request: Request, exc: AccordError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"error": str(exc)}, status)
        return render(request, "error.html", status=status, message=str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def home(experiment: str | None = None, judge: str | None = None, feedback: str | None = None) -> RedirectResponse:
        params = {k: v for k, v in (("experiment", experiment), ("judge", judge), ("feedback", feedback)) if v}
        return RedirectResponse("/queue" + (f"?{urlencode(params)}" if params else ""), 303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(
        request: Request,
        experiment: str | None = None,
        judge: str | None = None,
        feedback: str | None = None,
        tag: str | None = None,
        says: str | None = None,
        offset: int = 0,
    ) -> HTMLResponse:
        ctx = resolve(experiment, judge, feedback)
        queue = queues.get(ctx.experiment.experiment_id, ctx.name)
        page = queue.page(max(0, offset), PAGE_SIZE, tag or None, says or None)
        traces = {t.trace_id: t for t in get_store().get_traces([e.trace_id for e in page.entries])}
        return render(
            request,
            "queue.html",
            ctx=ctx,
            page=page,
            traces=traces,
            tag=tag or "",
            says=says or "",
            tags=queue.tag_choices(),
            choices=ctx.choices(),
            page_size=PAGE_SIZE,
        )

    @app.get("/trace/{trace_id:path}", response_class=HTMLResponse)  # :path: trace ids may contain "/"
    def trace_page(
        request: Request,
        trace_id: str,
        experiment: str | None = None,
        judge: str | None = None,
        feedback: str | None = None,
        tag: str | None = None,
        says: str | None = None,
        prev: str | None = None,
        saved: str | None = None,
    ) -> HTMLResponse:
        """`prev`: the trace the reviewer came from (Back returns there, to change what was just saved);
        `saved=1`: the previous trace's feedback was saved."""
        ctx = resolve(experiment, judge, feedback)
        trace = get_store().get_trace(trace_id)
        reviewer = reviewer_of(request)
        name = ctx.name
        human = trace.search_assessments(name=name, type="feedback", source_type="HUMAN")
        verdicts = trace.search_assessments(name=name, type="feedback", source_type="LLM_JUDGE", all=True)
        mine = next((a for a in reversed(human) if a.source.source_id == reviewer), None)
        queue = queues.get(ctx.experiment.experiment_id, name)
        return render(
            request,
            "trace.html",
            ctx=ctx,
            trace=trace,
            spans=span_tree(trace.spans),
            verdict=verdicts[-1] if verdicts else None,
            others=[a for a in human if a is not mine],
            mine=mine,
            choices=ctx.choices(),
            next_id=queue.next_for(reviewer or "", after=trace_id, tag=tag or None, judge_says=says or None),
            position=queue.position(trace_id, tag=tag or None, judge_says=says or None),
            prev=prev or "",
            saved=saved == "1",
            reviewers=sorted({a.source.source_id for a in human}),
            tag=tag or "",
            says=says or "",
        )

    @app.post("/trace/{trace_id:path}/feedback")
    async def save_feedback(request: Request, trace_id: str) -> Response:
        wants_json = request.headers.get("accept", "").startswith("application/json")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        ctx = resolve(fields.get("experiment"), fields.get("judge"), fields.get("feedback"))
        reviewer = reviewer_of(request)
        if reviewer is None:
            raise HTTPException(400, "say who you are first: enter a reviewer name at the top of the page")
        if not ctx.name:
            raise HTTPException(400, "choose a feedback name to label under first (the queue page asks for one)")
        try:
            value = ctx.parse(fields.get("value_other") or fields.get("value", ""))
        except ValueError as exc:
            if wants_json:
                return JSONResponse({"error": str(exc)}, 422)
            raise HTTPException(422, str(exc)) from None
        rationale = (fields.get("rationale") or "").strip() or None
        if rationale is None and (missing := _rationale_missing(settings.rationale, trace_id, ctx.name, value)):
            if wants_json:
                return JSONResponse({"error": missing}, 422)
            raise HTTPException(422, missing)
        feedback = log_feedback(
            trace_id,
            name=ctx.name,
            value=value,
            rationale=rationale,
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=reviewer),
            metadata={"via": "review page"},
        )
        queue = queues.get(ctx.experiment.experiment_id, ctx.name)
        queue.note_feedback(trace_id, reviewer)
        next_id = queue.next_for(
            reviewer, after=trace_id, tag=fields.get("tag") or None, judge_says=fields.get("says") or None
        )
        extra = {"tag": fields.get("tag"), "says": fields.get("says")}
        next_url = (
            f"/trace/{quote(next_id, safe='/')}?{ctx.query(**extra, prev=trace_id, saved='1')}"
            if next_id
            else f"/queue?{ctx.query(**extra)}"
        )
        if wants_json:
            return JSONResponse({"assessment_id": feedback.assessment_id, "next": next_url})
        return RedirectResponse(next_url, 303)

    @app.post("/reviewer")
    def set_reviewer(name: str = Form(...), back: str = Form("/queue")) -> Response:
        name = name.strip()
        if not _REVIEWER_NAME.match(name):
            raise HTTPException(422, "a reviewer name is 1 to 64 letters, digits, spaces or . @ - _")
        response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/queue", 303)
        response.set_cookie(REVIEWER_COOKIE, name, httponly=True, samesite="strict", max_age=365 * 24 * 3600)
        return response

    @app.get("/alignment", response_class=HTMLResponse)
    def alignment_page(
        request: Request, experiment: str | None = None, judge: str | None = None, target: float | None = None
    ) -> HTMLResponse:
        """`?target=0.6`: say "enough feedback" once the cross-validated kappa's lower end clears 0.6."""
        ctx = resolve(experiment, judge)
        board = build_dashboard(ctx.experiment.experiment_id, ctx.experiment.name, with_judge(ctx), target)
        job = jobs.get(ctx.experiment.experiment_id, ctx.judge_ref or "")
        return render(request, "alignment.html", ctx=ctx, board=board, job=job.to_dict() if job else None)

    @app.post("/alignment/run")
    async def run_alignment(request: Request) -> Response:
        form = await request.form()
        ctx = resolve(_str(form.get("experiment")), _str(form.get("judge")))
        jobs.start(ctx.experiment.experiment_id, ctx.judge_ref or "", with_judge(ctx))
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"started": True})
        return RedirectResponse(f"/alignment?{ctx.query()}", 303)

    @app.get("/alignment/job")
    def alignment_job(experiment: str | None = None, judge: str | None = None) -> JSONResponse:
        ctx = resolve(experiment, judge)
        job = jobs.get(ctx.experiment.experiment_id, ctx.judge_ref or "")
        return JSONResponse(job.to_dict() if job else {"state": "none"})

    async def save_edit(request: Request, field: str, edit: Callable[[MemAlignJudge, list[str]], Judge]) -> Response:
        """An aligned judge's guidelines or checks, edited as one item a line, registered as a new version."""
        form = await request.form()
        ctx = resolve(_str(form.get("experiment")), _str(form.get("judge")))
        aligned = with_judge(ctx)
        if not isinstance(aligned, MemAlignJudge):
            raise HTTPException(400, f"only an aligned judge has {field}; align it first")
        lines = [line.strip() for line in (_str(form.get(field)) or "").splitlines() if line.strip()]
        # a person's edit is what they want in use: the new version becomes the champion
        version = register_judge(
            edit(aligned, lines), aligned.registered_name, ctx.experiment.experiment_id, champion=True
        )
        name = aligned.registered_name or aligned.name
        return RedirectResponse(
            f"/alignment?{urlencode({'experiment': ctx.experiment.name, 'judge': name})}&saved={version}", 303
        )

    @app.post("/alignment/promote")
    async def promote_version(request: Request) -> Response:
        """Make the version "Align now" registered the champion: refused, with both figures shown to whoever
        clicked, when it agrees less on held-out traces than the champion, unless forced."""
        form = await request.form()
        ctx = resolve(_str(form.get("experiment")), _str(form.get("judge")))
        name, _, number = (_str(form.get("version")) or "").partition("@")
        if not number.isdigit():
            raise HTTPException(400, "name the version to promote as NAME@VERSION")
        try:
            found = promote(name, int(number), ctx.experiment.experiment_id, force=form.get("force") == "1")
            outcome = {"promoted": True, "message": f"{name}@{number} is now the champion", **found}
        except PromotionRefused as exc:
            outcome = {"promoted": False, "message": str(exc), **exc.figures}
        job = jobs.get(ctx.experiment.experiment_id, ctx.judge_ref or "")
        if job is not None:
            job.result["promotion"] = outcome
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse(outcome, status_code=200 if outcome["promoted"] else 409)
        return RedirectResponse(f"/alignment?{ctx.query()}", 303)

    @app.post("/alignment/guidelines")
    async def edit_guidelines(request: Request) -> Response:
        return await save_edit(request, "guidelines", MemAlignJudge.with_guideline_sentences)

    @app.post("/alignment/checks")
    async def edit_checks(request: Request) -> Response:
        return await save_edit(request, "checks", MemAlignJudge.with_check_questions)

    return app


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
