import pytest

import accord


def test_decorator_and_context_manager_record_nested_spans() -> None:
    accord.set_experiment("tracing")

    @accord.trace(span_type="TOOL")
    def lookup(order_id: str) -> dict:
        return {"order": order_id, "status": "shipped"}

    @accord.trace
    def answer(question: str) -> str:
        with accord.start_span("retrieve", span_type="RETRIEVER", inputs={"q": question}) as span:
            span.set_outputs(["doc"])
        return f"status: {lookup('42')['status']}"

    assert answer("where is my order?") == "status: shipped"
    trace = accord.get_trace(accord.get_last_active_trace_id())
    assert trace.inputs == {"question": "where is my order?"}
    assert trace.outputs == "status: shipped"
    names = {s.name: s for s in trace.spans}
    assert set(names) == {"answer", "retrieve", "lookup"}
    root = names["answer"]
    assert root.parent_id is None
    assert names["retrieve"].parent_id == root.span_id and names["lookup"].parent_id == root.span_id
    assert names["lookup"].outputs == {"order": "42", "status": "shipped"}
    assert all(s.end_time_ms is not None and s.end_time_ms >= s.start_time_ms for s in trace.spans)


def test_exception_is_recorded_and_reraised() -> None:
    @accord.trace
    def broken(x: int) -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        broken(1)
    trace = accord.get_trace(accord.get_last_active_trace_id())
    assert trace.status == "ERROR"
    assert trace.spans[0].events[0]["message"] == "boom"


def test_unserializable_values_are_stored_by_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    @accord.trace
    def f(thing: object) -> object:
        return thing

    f(Thing())
    assert accord.get_trace(accord.get_last_active_trace_id()).outputs == "<Thing>"


async def _async_app(q: str) -> str:
    return q.upper()


def test_async_functions_are_traced() -> None:
    import asyncio

    traced = accord.trace(_async_app)
    assert asyncio.run(traced("hi")) == "HI"
    assert accord.get_trace(accord.get_last_active_trace_id()).outputs == "HI"


def test_sessions_and_tags_are_recorded() -> None:
    with accord.start_span("turn", session_id="s-1", tags={"user": "ann"}) as span:
        span.set_outputs("ok")
    trace = accord.get_trace(span.trace_id)
    assert trace.session_id == "s-1" and trace.tags == {"user": "ann"}
    assert [t.trace_id for t in accord.search_traces(tags={"user": "ann"})] == [trace.trace_id]
