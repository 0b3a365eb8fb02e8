"""DSPy's SIMBA and GEPA prompt optimizers as accord alignment optimizers.

The judge becomes a one-step `dspy.Predict` program whose instructions start as the judge's own; DSPy
rewrites them (and SIMBA adds demos) to agree with the experts. The result is a plain accord judge: the
original template plus what DSPy learned, so it needs no DSPy at judging time.

DSPy is optional (`pip install 'accord[dspy]'`) and imported only when an optimizer runs.
"""

from __future__ import annotations

import functools
import logging
import warnings
from abc import abstractmethod
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from accord.align.base import AlignmentError, AlignmentOptimizer
from accord.align.labels import collect_labels
from accord.judges.base import TEMPLATE_VARIABLE, JudgeInput
from accord.judges.factory import make_judge
from accord.judges.rendering import clip, render_value
from accord.judges.value_types import ValueType
from accord.llm import ChatRequest, get_model

if TYPE_CHECKING:
    from accord.entities import Trace
    from accord.judges import Judge

log = logging.getLogger("accord.align.dspy")

GUIDANCE_HEADER = "Guidance learned from expert feedback:"
MAX_DEMOS = 4
DEMO_CHARS = 300


def _dspy() -> Any:
    try:
        import dspy
    except ImportError as exc:
        raise AlignmentError("the SIMBA and GEPA optimizers need DSPy: pip install 'accord[dspy]'") from exc
    return dspy


def _text(content: Any) -> str:
    """DSPy may send content as a list of parts; accord's providers take plain text."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


@functools.cache
def _make_lm_class() -> type:
    dspy = _dspy()

    class AccordLM(dspy.BaseLM):
        """A DSPy LM that answers through accord's own model handle (`local:`, `fake:` or hosted URIs)."""

        def __init__(self, uri: str | None = None, temperature: float = 0.0, max_tokens: int = 512) -> None:
            # keep only the URI: DSPy deep-copies programs and LMs, and accord's handle holds locks
            self.uri = get_model(uri).uri
            super().__init__(model=self.uri, temperature=temperature, max_tokens=max_tokens, cache=False)

        def forward(self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any):
            settings = {**self.kwargs, **kwargs}  # DSPy passes only the per-call kwargs to forward()
            chat = [{"role": m.get("role", "user"), "content": _text(m.get("content"))} for m in messages or []]
            request = ChatRequest(
                messages=chat or [{"role": "user", "content": _text(prompt)}],
                max_tokens=int(settings.get("max_tokens") or 512),
                temperature=float(settings.get("temperature") or 0.0),
            )
            # a rollout id asks for a fresh sample: accord's response cache must not answer it
            fresh = False if settings.get("rollout_id") is not None else None
            completion = get_model(self.uri).complete(request, use_cache=fresh)
            tokens = {"prompt_tokens": completion.usage.prompt_tokens}
            tokens["completion_tokens"] = completion.usage.completion_tokens
            tokens["total_tokens"] = tokens["prompt_tokens"] + tokens["completion_tokens"]
            # the OpenAI chat-completion shape BaseLM reads: choices[].message.content, usage, model
            message = SimpleNamespace(content=completion.text)
            choice = SimpleNamespace(message=message, finish_reason="stop")
            return SimpleNamespace(choices=[choice], usage=tokens, model=self.uri)

    return AccordLM


def __getattr__(name: str) -> Any:
    """`AccordLM` subclasses dspy.BaseLM, so it is built on first use and DSPy stays optional."""
    if name == "AccordLM":
        return _make_lm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _score(value_type: ValueType, span: float, expected: Any, predicted: Any) -> float:
    try:
        got = value_type.coerce(predicted)
    except (TypeError, ValueError):
        return 0.0
    if got == expected or (value_type.kind == "str" and got.strip().lower() == str(expected).strip().lower()):
        return 1.0
    if value_type.kind == "categorical":  # categories are listed in scale order
        order = list(value_type.categories)
        if len(order) > 2:
            return max(0.0, 1.0 - abs(order.index(got) - order.index(expected)) / (len(order) - 1))
    if value_type.kind in ("int", "float"):
        return max(0.0, 1.0 - abs(got - expected) / span)
    return 0.0


def agreement_metric(
    value_type: ValueType, label_values: Sequence[Any] = (), feedback: bool = False
) -> Callable[..., Any]:
    """A DSPy metric: 1.0 for the expert's verdict, partial credit for a near miss on an ordinal or numeric
    scale (the span of the numeric labels sets the scale), 0.0 for anything unparseable. With `feedback`,
    returns dspy.Prediction(score, feedback) carrying the expert's rationale, as GEPA's reflection wants."""
    numbers = [v for v in label_values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    span = max(1.0, float(max(numbers) - min(numbers))) if numbers else 1.0

    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        expected = gold["result"]
        predicted = pred.get("result") if hasattr(pred, "get") else None  # None: the program failed
        score = _score(value_type, span, expected, predicted)
        if not feedback:
            return score
        if score == 1.0:
            text = f"Correct: the expert's verdict is also {expected!r}."
        else:
            why = gold.get("rationale") or "(the expert gave no reason)"
            text = f"You answered {predicted!r}; the expert's verdict is {expected!r}. The expert's reason: {why}"
        return _dspy().Prediction(score=score, feedback=text)

    return metric


def _fields(judge: Judge) -> list[str]:
    static = judge.static_sections()
    extra = [v for v in ("trace", "conversation") if v in judge.variables and v not in static]
    return ["inputs", "outputs", "expectations", *extra]


def _field_texts(judge: Judge, fields: Sequence[str], trace: Trace) -> dict[str, str]:
    # the same rendering the judge itself uses, so DSPy learns on what the judge will see
    given = JudgeInput(trace.inputs, trace.outputs, trace.expectations, trace, [trace])
    return {f: judge.section_text(f, given) for f in fields}


def _seed_instructions(judge: Judge) -> str:
    static = judge.static_sections()
    return TEMPLATE_VARIABLE.sub(lambda m: static.get(m.group(1), f"`{m.group(1)}`"), judge.instructions)


def _annotation(value_type: ValueType) -> Any:
    if value_type.kind == "categorical":
        return Literal[tuple(value_type.categories)]  # type: ignore[valid-type]
    return {"bool": bool, "int": int, "float": float}.get(value_type.kind, str)


def _one_line(value: Any, limit: int = DEMO_CHARS) -> str:
    return clip(" ".join(str(value).split()), limit)


def _guidance(seed: str, learned: str, demos: Sequence[Any], gold: dict[tuple[str, str], Any]) -> str:
    if learned.startswith(seed):  # SIMBA appends advice to the seed; keep only what it added
        learned = learned[len(seed) :]
    # the guidance is prose: a stray {{ x }} in it must not become a template variable
    learned = TEMPLATE_VARIABLE.sub(lambda m: m.group(1), learned).strip()
    lines = []
    for demo in list(demos)[-MAX_DEMOS:]:
        key = (str(demo.get("inputs")), str(demo.get("outputs")))
        verdict = gold.get(key, demo.get("result"))
        lines.append(
            f"- inputs: {_one_line(demo.get('inputs'))}\n  outputs: {_one_line(demo.get('outputs'))}\n"
            f"  expert verdict: {render_value(verdict, DEMO_CHARS)}"
        )
    if not learned and not lines:
        return ""
    parts = [GUIDANCE_HEADER]
    if learned:
        parts.append(learned)
    if lines:
        parts.append("Examples with the expert's verdict:\n" + "\n".join(lines))
    return "\n\n".join(parts)


class _DSPyPromptOptimizer(AlignmentOptimizer):
    """Shared plumbing: labels -> dspy.Examples -> optimized dspy.Predict -> new accord judge.

    model: the optimizer's (reflection) model URI; judge_model: the model the program runs on while it is
    optimized. Both default to the judge's own model.
    """

    name = "dspy"

    def __init__(
        self, model: str | None = None, judge_model: str | None = None, num_threads: int = 4, seed: int = 0
    ) -> None:
        self.model = model
        self.judge_model = judge_model
        self.num_threads = num_threads
        self.seed = seed
        self.last_run: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        return {"optimizer": self.name, **{k: v for k, v in vars(self).items() if k != "last_run"}}

    @abstractmethod
    def _compile(self, dspy: Any, program: Any, trainset: list[Any], metric: Callable[..., Any], coach: Any) -> Any:
        """Run the DSPy optimizer (inside `dspy.context(lm=<judge model>)`); return the optimized program."""

    def align(self, judge: Judge, traces: Sequence[Trace]) -> Judge:
        dspy = _dspy()
        labels = collect_labels(judge.name, judge.value_type, traces).labels
        fields = _fields(judge)
        trainset = [
            dspy.Example(
                **_field_texts(judge, fields, lb.trace), result=lb.value, rationale=lb.rationale or ""
            ).with_inputs(*fields)
            for lb in labels
        ]
        seed = _seed_instructions(judge)
        signature = dspy.Signature(
            {
                **{f: (str, dspy.InputField()) for f in fields},
                "result": (_annotation(judge.value_type), dspy.OutputField(desc=judge.value_type.describe())),
            },
            seed,
        )
        lm_class = _make_lm_class()
        params = judge.inference_params
        student = lm_class(
            self.judge_model or judge.model,
            temperature=float(params.get("temperature", 0.0)),
            max_tokens=int(params.get("max_tokens", 512)),
        )
        coach = lm_class(self.model or judge.model, temperature=0.7, max_tokens=2048)
        metric = agreement_metric(judge.value_type, [lb.value for lb in labels], feedback=True)
        with warnings.catch_warnings():
            # DSPy 3.4 deprecates BaseLM.forward() (removal planned for 3.5); the warning would fire per call
            warnings.filterwarnings("ignore", message=r".*BaseLM\.forward", category=DeprecationWarning)
            try:
                with dspy.context(lm=student):
                    optimized = self._compile(dspy, dspy.Predict(signature), trainset, metric, coach)
            except AlignmentError:
                raise
            except Exception as exc:  # any DSPy or model failure: the input judge is untouched
                raise AlignmentError(
                    f"{self.name} failed ({type(exc).__name__}: {exc}); the judge was not changed"
                ) from exc
        predictor = optimized.predictors()[0]
        gold = {(ex["inputs"], ex["outputs"]): ex["result"] for ex in trainset}
        guidance = _guidance(seed, predictor.signature.instructions, predictor.demos, gold)
        if not guidance:
            log.warning("%s found nothing better than the judge's instructions; they stay as they are", self.name)
        static = judge.static_sections()  # built-in judges' fixed sections are written into the template
        template = TEMPLATE_VARIABLE.sub(lambda m: static.get(m.group(1), m.group(0)), judge.instructions)
        self.last_run = {"labels": len(labels), "demos": len(predictor.demos), "guidance": guidance}
        return make_judge(
            name=judge.name,
            instructions=f"{template}\n\n{guidance}" if guidance else template,
            model=judge.model,
            feedback_value_type=judge.value_type,
            description=judge.description,
            inference_params=judge.inference_params,
        )


class SIMBAOptimizer(_DSPyPromptOptimizer):
    """dspy.SIMBA: samples the judge on mini-batches, then adds rules (from the reflection model) and demos
    where its answers vary most. Small defaults suit a CPU-only local model."""

    name = "simba"

    def __init__(
        self,
        model: str | None = None,
        judge_model: str | None = None,
        max_steps: int = 4,
        num_candidates: int = 4,
        bsize: int = 8,
        max_demos: int = MAX_DEMOS,
        num_threads: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(model, judge_model, num_threads, seed)
        self.max_steps, self.num_candidates, self.bsize, self.max_demos = max_steps, num_candidates, bsize, max_demos

    def _compile(self, dspy: Any, program: Any, trainset: list[Any], metric: Callable[..., Any], coach: Any) -> Any:
        optimizer = dspy.SIMBA(
            metric=metric,
            bsize=min(self.bsize, len(trainset)),  # SIMBA asserts the trainset holds a whole batch
            num_candidates=self.num_candidates,
            max_steps=self.max_steps,
            max_demos=self.max_demos,
            prompt_model=coach,
            num_threads=self.num_threads,
        )
        return optimizer.compile(program, trainset=trainset, seed=self.seed)


class GEPAOptimizer(_DSPyPromptOptimizer):
    """dspy.GEPA: the reflection model reads the judge's mistakes with the experts' reasons and rewrites
    its instructions, keeping a Pareto front of candidates. Budget: max_metric_calls, or auto."""

    name = "gepa"

    def __init__(
        self,
        model: str | None = None,
        judge_model: str | None = None,
        max_metric_calls: int | None = 60,
        auto: Literal["light", "medium", "heavy"] | None = None,
        reflection_minibatch_size: int = 3,
        num_threads: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(model, judge_model, num_threads, seed)
        self.auto = auto
        self.max_metric_calls = None if auto else max_metric_calls  # GEPA takes exactly one budget
        self.reflection_minibatch_size = reflection_minibatch_size

    def _compile(self, dspy: Any, program: Any, trainset: list[Any], metric: Callable[..., Any], coach: Any) -> Any:
        optimizer = dspy.GEPA(
            metric=metric,
            reflection_lm=coach,
            max_metric_calls=self.max_metric_calls,
            auto=self.auto,
            reflection_minibatch_size=self.reflection_minibatch_size,
            num_threads=self.num_threads,
            seed=self.seed,
        )
        return optimizer.compile(program, trainset=trainset)
