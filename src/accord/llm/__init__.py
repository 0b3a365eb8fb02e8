"""Models by URI: local llama.cpp, hosted providers through litellm, and the scripted fake."""

from accord.llm.model import Model, RetryPolicy, get_model
from accord.llm.types import ChatRequest, Completion, Usage
from accord.llm.uris import ModelURI, parse_model_uri

__all__ = [
    "ChatRequest",
    "Completion",
    "Model",
    "ModelURI",
    "RetryPolicy",
    "Usage",
    "get_model",
    "parse_model_uri",
]
