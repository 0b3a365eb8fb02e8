"""One real local model: SmolLM2-135M through llama.cpp, with the verdict constrained by a grammar."""

import json
from dataclasses import replace
from typing import Literal

from accord.judges import make_judge
from accord.llm.local_files import resolve_model_file


def test_tiny_local_model_gives_a_parseable_verdict() -> None:
    assert resolve_model_file("smollm2-135m").stat().st_size > 90_000_000
    judge = make_judge(
        "smoke",
        "Is the answer in {{ outputs }} polite? Answer yes or no.",
        model="local:/smollm2-135m?n_ctx=2048",
        feedback_value_type=Literal["yes", "no"],
    )
    feedback = judge(outputs="Thank you for your patience, your parcel is on its way.")
    assert feedback.error is None, feedback.error
    assert feedback.value in ("yes", "no")
    assert feedback.metadata["usage"]["prompt_tokens"] > 50


def test_tiny_local_model_reports_verdict_probabilities_and_writes_a_forced_verdict() -> None:
    from accord.judges.value_types import ValueType
    from accord.judges.verdicts import verdict_schema
    from accord.llm import ChatRequest, get_model

    model = get_model("local:/smollm2-135m?n_ctx=2048")
    request = ChatRequest(
        messages=[
            {"role": "system", "content": 'Reply with JSON: "result": "yes" or "no", then a short "rationale".'},
            {"role": "user", "content": "Is the sky green? Answer yes or no."},
        ],
        json_schema=verdict_schema(ValueType.of(Literal["yes", "no"]), result_first=True),
        max_tokens=60,
        verdict_choices=("yes", "no"),
    )
    free = model.complete(request, use_cache=False)
    assert free.text.replace(" ", "").startswith('{"result"'), free.text  # the schema's field order is kept
    probabilities = free.choice_probabilities
    assert probabilities is not None and set(probabilities) == {"yes", "no"}
    assert abs(sum(probabilities.values()) - 1) < 1e-6
    least_likely = min(probabilities, key=probabilities.__getitem__)
    forced = model.complete(replace(request, forced_choice=least_likely), use_cache=False)
    assert forced.text.replace(" ", "").startswith(f'{{"result":"{least_likely}"'), forced.text


def test_checks_of_one_case_reuse_the_prefilled_case() -> None:
    """The case is prefilled once: every further question evaluates only its own few tokens (llama.cpp keeps
    the KV cache of the prefix the requests share)."""
    from accord.align.checks import Check, ask_case
    from accord.llm.local import _load
    from accord.llm.local_files import resolve_model_file

    judge = make_judge(
        "smoke",
        "Is the answer in {{ outputs }} polite? Answer yes or no.",
        model="local:/smollm2-135m?n_ctx=2048",
        feedback_value_type=Literal["yes", "no"],
    )
    llm, _lock = _load(resolve_model_file("smollm2-135m"), 2048)
    evaluated: list[int] = []
    original = llm.eval

    def counting_eval(tokens):  # type: ignore[no-untyped-def]
        evaluated.append(len(tokens))
        return original(tokens)

    llm.eval = counting_eval
    try:
        case = "Thank you for your patience. " * 20 + "Your parcel is on its way and arrives on Friday."
        checks = [Check("Does the answer thank the customer?"), Check("Does the answer give a delivery day?")]
        answers = ask_case(judge, checks, judge.gather(outputs=case), use_cache=False)
    finally:
        llm.eval = original
    assert answers.judge is not None and all(p is not None for p in answers.checks)
    prompts = [n for n in evaluated if n > 1]  # prompt prefills (generation evaluates one token at a time)
    assert len(prompts) == 3, evaluated
    assert prompts[1] < prompts[0] / 4 and prompts[2] < prompts[0] / 4, prompts


def test_probe_only_reads_the_verdict_without_generating_it() -> None:
    from accord.judges.value_types import ValueType
    from accord.judges.verdicts import verdict_schema
    from accord.llm import ChatRequest, get_model

    model = get_model("local:/smollm2-135m?n_ctx=2048")
    request = ChatRequest(
        messages=[
            {"role": "system", "content": 'Reply with JSON: {"result": "yes" or "no"}.'},
            {"role": "user", "content": "Is the sky green? Answer yes or no."},
        ],
        json_schema=verdict_schema(ValueType.of(Literal["yes", "no"]), result_first=True),
        max_tokens=12,
        verdict_choices=("yes", "no"),
    )
    generated = model.complete(request, use_cache=False)
    probed = model.complete(replace(request, probe_only=True), use_cache=False)
    assert probed.usage.completion_tokens == 0 and generated.usage.completion_tokens > 0
    assert probed.choice_probabilities is not None and generated.choice_probabilities is not None
    assert abs(sum(probed.choice_probabilities.values()) - 1) < 1e-6
    likeliest = max(probed.choice_probabilities, key=probed.choice_probabilities.__getitem__)
    assert json.loads(probed.text) == {"result": likeliest}
    # the same distribution the generated answer was read at (up to the repeat penalty generation applies)
    assert abs(probed.choice_probabilities["yes"] - generated.choice_probabilities["yes"]) < 0.15


def test_the_first_load_of_a_local_model_says_so(capsys) -> None:  # type: ignore[no-untyped-def]
    from accord.llm import local

    path = resolve_model_file("smollm2-135m")
    local._loaded.clear()
    local._load(path, 512)
    assert f"loaded the local model {path.name}" in capsys.readouterr().err
