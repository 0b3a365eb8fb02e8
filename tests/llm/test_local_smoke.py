"""One real local model: SmolLM2-135M through llama.cpp, with the verdict constrained by a grammar."""

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
