"""Model URIs, parsed in exactly one place.

local:/qwen2.5-coder-1.5b            packaged embedded model (the default)
local:/path/to/model.gguf            any GGUF file
openai:/gpt-4o-mini                  hosted providers, through litellm
openai:/my-model?base_url=http://127.0.0.1:8000/v1   any OpenAI-compatible server
anthropic:/claude-3-5-haiku-latest, databricks:/endpoint, ollama:/llama3.1, vllm:/model?base_url=...
openai/gpt-4o-mini                   litellm's own spelling is accepted too
fake:  or  fake:/script-name         scripted replies for tests
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from accord.errors import ConfigError

# provider -> environment variable holding its key (None: no key needed)
REMOTE_PROVIDERS: dict[str, str | None] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "databricks": "DATABRICKS_TOKEN",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "bedrock": None,  # AWS credentials come from the usual AWS variables
    "azure": "AZURE_API_KEY",
    "ollama": None,
    "vllm": None,
    "hosted_vllm": None,
}
LOCAL_PROVIDERS = ("local", "fake")


@dataclass(frozen=True)
class ModelURI:
    provider: str
    name: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str | None:
        return self.params.get("base_url")

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.provider}:/{self.name}" + (f"?{query}" if query else "")


def parse_model_uri(uri: str) -> ModelURI:
    if not uri or not isinstance(uri, str):
        raise ConfigError(f"a model URI must be a non-empty string, got {uri!r}")
    text, _, query = uri.strip().partition("?")
    params = dict(parse_qsl(query, keep_blank_values=False))
    if re.match(r"^[A-Za-z_][\w-]*:", text):
        provider, _, name = text.partition(":")
        name = name[1:] if name.startswith("/") else name  # local:/abs/x.gguf keeps "abs/x.gguf"; see local_files
    elif "/" in text:
        provider, _, name = text.partition("/")
    else:
        raise ConfigError(
            f"cannot read model URI {uri!r}: use provider:/model, e.g. openai:/gpt-4o-mini or local:/qwen2.5-coder-1.5b"
        )
    provider = provider.strip().lower()
    if provider not in REMOTE_PROVIDERS and provider not in LOCAL_PROVIDERS:
        known = ", ".join(sorted([*REMOTE_PROVIDERS, *LOCAL_PROVIDERS]))
        raise ConfigError(f"unknown model provider {provider!r} in {uri!r}; known providers: {known}")
    if provider not in ("fake",) and not name:
        raise ConfigError(f"model URI {uri!r} names no model")
    if provider in ("vllm", "hosted_vllm") and "base_url" not in params:
        raise ConfigError(f"{uri!r}: a vLLM model needs ?base_url=http://host:port/v1")
    return ModelURI(provider=provider, name=name, params=params)
