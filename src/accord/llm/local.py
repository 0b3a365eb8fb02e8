"""`local:` models: llama.cpp in-process (no HTTP listener at all), JSON constrained by a grammar built
from the request's schema. Each model file is loaded once per process and used by one call at a time;
llama.cpp keeps the KV cache of the previous prompt, so prompts that share a prefix skip its prefill."""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from accord.config import settings
from accord.errors import ModelFilesError
from accord.llm.local_files import resolve_model_file
from accord.llm.types import ChatRequest, Completion, Usage
from accord.llm.uris import ModelURI
from accord.progress import PROGRESS_CONSOLE

_loaded: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_load_lock = threading.Lock()
_grammars: dict[str, Any] = {}
_formatters: dict[int, Any] = {}


def _load(path: Path, n_ctx: int) -> tuple[Any, threading.Lock]:
    key = (str(path), n_ctx)
    with _load_lock:
        if key not in _loaded:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelFilesError(
                    "local models need llama.cpp's Python bindings: pip install 'accord[local]'"
                ) from exc
            threads = settings().local_threads or os.cpu_count() or 2
            size = path.stat().st_size / 1e9
            # the first use of a local model takes seconds: say so, so nobody takes it for a hang
            with PROGRESS_CONSOLE.status(f"loading the local model {path.name} ({size:.1f} GB) into memory…"):
                llm = _llama(Llama, path, n_ctx, threads)
            PROGRESS_CONSOLE.print(f"[dim]loaded the local model {path.name} ({size:.1f} GB)[/]", highlight=False)
            _loaded[key] = (llm, threading.Lock())  # a llama.cpp context serves one call at a time
        return _loaded[key]


def _llama(cls: Any, path: Path, n_ctx: int, threads: int) -> Any:
    return cls(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        seed=0,
        verbose=False,
    )


@atexit.register
def _close_models() -> None:
    """Free llama.cpp contexts before interpreter teardown, when their finalizers can no longer run."""
    with _load_lock:
        for llm, _lock in _loaded.values():
            llm.close()
        _loaded.clear()


def _grammar(schema: dict[str, Any]) -> Any:
    from llama_cpp import LlamaGrammar

    key = json.dumps(schema)  # not sorted: the order of the properties is the order the model writes them
    if key not in _grammars:
        _grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
    return _grammars[key]


class LocalProvider:
    default_concurrency = 1  # one llama.cpp context: calls are serialized
    cacheable = True

    def __init__(self, uri: ModelURI) -> None:
        self.uri = uri
        self.path = resolve_model_file(uri.name)
        self.n_ctx = int(uri.params.get("n_ctx", 8192))

    def complete(self, request: ChatRequest) -> Completion:
        llm, lock = _load(self.path, self.n_ctx)
        if request.probe_only and request.verdict_choices and request.forced_choice is None:
            return _probe(llm, lock, request)
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "repeat_penalty": 1.1,
        }
        if request.json_schema is not None:
            kwargs["grammar"] = _grammar(request.json_schema)
        started = time.perf_counter()
        with lock:
            probe = None
            if request.verdict_choices:
                from llama_cpp import LogitsProcessorList

                from accord.llm.local_verdicts import VerdictProbe

                probe = VerdictProbe(llm, request.verdict_choices, request.forced_choice)
                kwargs["logits_processor"] = LogitsProcessorList([probe])
            response = llm.create_chat_completion(**kwargs)
        usage = response.get("usage") or {}
        choice = response["choices"][0]
        return Completion(
            text=choice["message"]["content"] or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                latency_s=time.perf_counter() - started,
                cost_usd=0.0,
            ),
            choice_probabilities=probe.probabilities if probe is not None else None,
        )


def _chat_formatter(llm: Any) -> Any:
    """The model's own chat template (as `create_chat_completion` renders it), to continue an answer."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if id(llm) not in _formatters:
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelFilesError(f"{llm.model_path}: the model file has no chat template")

        def text(token: int) -> str:
            return "" if token == -1 else llm.detokenize([token], special=True).decode("utf-8", "replace")

        _formatters[id(llm)] = Jinja2ChatFormatter(
            template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
        )
    return _formatters[id(llm)]


def _probe(llm: Any, lock: threading.Lock, request: ChatRequest) -> Completion:
    """The verdict's probabilities from the token after a prefilled `{"result": "` (one position, nothing
    generated); the text is the likeliest choice, written as the grammar would have written it."""
    from llama_cpp import LogitsProcessorList

    from accord.llm.local_verdicts import RESULT_OPENING, FirstTokenProbe

    assert request.verdict_choices is not None
    rendered = _chat_formatter(llm)(messages=request.messages)
    tokens = llm.tokenize((rendered.prompt + RESULT_OPENING).encode(), add_bos=not rendered.added_special, special=True)
    started = time.perf_counter()
    with lock:
        probe = FirstTokenProbe(llm, request.verdict_choices)
        llm.create_completion(
            prompt=tokens, max_tokens=1, temperature=0.0, logits_processor=LogitsProcessorList([probe])
        )
    probabilities = probe.probabilities
    text = ""
    if probabilities is not None:
        text = json.dumps({"result": max(probabilities, key=probabilities.__getitem__)})
    return Completion(
        text=text,
        finish_reason="stop",
        usage=Usage(
            prompt_tokens=len(tokens), completion_tokens=0, latency_s=time.perf_counter() - started, cost_usd=0.0
        ),
        choice_probabilities=probabilities,
    )
