import pytest

from accord.errors import ConfigError
from accord.llm import Model, parse_model_uri


@pytest.mark.parametrize(
    ("uri", "provider", "name"),
    [
        ("openai:/gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("anthropic:/claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"),
        ("databricks:/databricks-gpt-oss-120b", "databricks", "databricks-gpt-oss-120b"),
        ("ollama:/llama3.1", "ollama", "llama3.1"),
        ("local:/qwen2.5-coder-1.5b", "local", "qwen2.5-coder-1.5b"),
        ("local:/models/x.gguf", "local", "models/x.gguf"),
        ("fake:", "fake", ""),
        ("fake:/script", "fake", "script"),
    ],
)
def test_uris_parse(uri: str, provider: str, name: str) -> None:
    parsed = parse_model_uri(uri)
    assert (parsed.provider, parsed.name) == (provider, name)


def test_base_url_and_params_come_from_the_query() -> None:
    parsed = parse_model_uri("vllm:/qwen?base_url=http://127.0.0.1:8000/v1&max_concurrency=4")
    assert parsed.base_url == "http://127.0.0.1:8000/v1" and parsed.params["max_concurrency"] == "4"


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown model provider 'bogus'.*openai"):
        parse_model_uri("bogus:/model")
    with pytest.raises(ConfigError, match="cannot read model URI"):
        parse_model_uri("gpt-4o")
    with pytest.raises(ConfigError, match="needs \\?base_url"):
        parse_model_uri("vllm:/model")


def test_missing_api_key_names_the_environment_variable() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        Model("openai:/gpt-4o-mini")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        Model("anthropic:/claude-3-5-haiku-latest")


def test_openai_compatible_server_needs_no_key() -> None:
    assert Model("openai:/any?base_url=http://127.0.0.1:9/v1").provider.api_key == "not-needed"
