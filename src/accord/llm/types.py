"""What goes to a model and what comes back, independent of the provider."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    json_schema: dict[str, Any] | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # Verdict probabilities (providers that can read the model's next-token distribution): the answer puts
    # its string "result" first, and the provider reports how likely each of these choices was right there.
    verdict_choices: tuple[str, ...] | None = None
    forced_choice: str | None = None  # write this verdict whatever the model preferred; the reason follows it
    # Only the verdict's probabilities are wanted: a provider that reads them may stop right where the verdict
    # is named, and answers with the likeliest choice as `{"result": CHOICE}`. Others answer in full.
    probe_only: bool = False

    def cache_key(self, model_uri: str) -> str:
        fields: list[Any] = [model_uri, self.messages, self.json_schema, self.max_tokens, self.temperature, self.extra]
        if self.verdict_choices:  # keeps the keys of plain requests as they were
            fields += [list(self.verdict_choices), self.forced_choice]
        if self.probe_only:
            fields.append("probe_only")
        payload = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 4),
            "cost_usd": self.cost_usd,
            "cached": self.cached,
        }


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    choice_probabilities: dict[str, float] | None = None  # for requests with verdict_choices, when known
