"""Production monitoring with the scripted model: traces arriving while it runs, a restart in the middle,
sampling that picks the same traces every time, alerts once per crossing, and a webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from typer.testing import CliRunner

import accord
from accord.cli import app
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.errors import ConfigError
from accord.judges import make_judge
from accord.llm import fake
from accord.monitoring import Alert, Monitor, sampled
from accord.store import get_store


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body posted to it; it answers 500 to the first
    `failures` posts, or with `trickle` sends its answer a byte a second."""

    def __init__(self, failures: int = 0, trickle: bool = False) -> None:
        self.posts: list[dict[str, Any]] = []
        self.tries = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.tries += 1
                if trickle:
                    self.wfile.write(b"H")
                    for byte in b"TTP/1.1 204 No Content\r\n\r\n":
                        time.sleep(1)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                if receiver.tries <= failures:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.posts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()


def _add(experiment_id: str, start: int, n: int, promise: bool = False) -> list[str]:
    traces = [
        Trace(
            trace_id=f"m-{i}",
            inputs={"question": f"order {i}"},
            outputs=("I promise a refund." if promise else "Use the returns form.") + f" ({i})",
            request_time_ms=1_700_000_000_000 + i,
        )
        for i in range(start, start + n)
    ]
    get_store().insert_traces(traces, experiment_id)
    return [t.trace_id for t in traces]


def _judge() -> Any:
    fake.script(
        "prod", lambda r: {"rationale": "r", "result": "no" if "promise" in r.messages[-1]["content"] else "yes"}
    )
    return make_judge(
        "policy", "Is {{ outputs }} within policy?", model="fake:/prod", feedback_value_type=Literal["yes", "no"]
    )


def _verdicts() -> list:  # type: ignore[type-arg]
    return get_store().search_assessments(name="policy", source_type="LLM_JUDGE")


def test_new_traces_are_judged_as_they_arrive_and_a_restart_judges_nothing_twice() -> None:
    experiment = accord.set_experiment("prod")
    _add(experiment.experiment_id, 0, 10)
    judge = _judge()
    receiver = Receiver()
    lines: list[str] = []
    try:
        first = Monitor("prod", judge, alerts=[Alert.parse("no_rate>0.3")], webhook=receiver.url, emit=lines.append)

        def stream() -> None:  # production keeps logging traces while the monitor runs
            for start in (10, 20):
                time.sleep(0.3)
                _add(experiment.experiment_id, start, 10, promise=True)

        feeder = threading.Thread(target=stream)
        feeder.start()
        first.run(interval=0.25, cycles=4)
        feeder.join()
        first.cycle()
        assert len(_verdicts()) == 30 and len({v.trace_id for v in _verdicts()}) == 30
        firing = [line for line in lines if line.startswith("ALERT FIRING no_rate>0.3")]
        assert len(firing) == 1  # once per crossing, not every cycle
        assert len(receiver.posts) == 1 and receiver.posts[0]["state"] == "firing"
        assert receiver.posts[0]["judge"] == judge.key and receiver.posts[0]["value"] > 0.3

        # a restart: the alert still fires (no second alert), and only new traces are judged
        _add(experiment.experiment_id, 30, 5)
        restarted = Monitor("prod", judge, alerts=[Alert.parse("no_rate>0.3")], webhook=receiver.url, emit=lines.append)
        figures = restarted.cycle()
        assert figures["new"] == 5 and len(_verdicts()) == 35 and len(receiver.posts) == 1
        points = get_store().monitor_points(experiment.experiment_id, judge.key)
        assert len(points) >= 6 and points[-1]["figures"]["alerts_firing"] == ["no_rate>0.3"]
    finally:
        receiver.close()


def test_sampling_picks_the_same_traces_and_agreement_counts_later_human_feedback() -> None:
    experiment = accord.set_experiment("sampled")
    ids = _add(experiment.experiment_id, 0, 200)
    judge = _judge()
    chosen = [i for i in ids if sampled(judge.key, i, 0.2)]
    assert 20 < len(chosen) < 60 and chosen == [i for i in ids if sampled(judge.key, i, 0.2)]
    lines: list[str] = []
    monitor = Monitor("sampled", judge, sample=0.2, alerts=[Alert.parse("kappa<0.5")], emit=lines.append)
    figures = monitor.cycle()
    assert figures["new"] == len(chosen) and "kappa" not in figures  # no human feedback yet
    judged = [v.trace_id for v in _verdicts()]
    assert sorted(judged) == sorted(chosen)
    experts = [
        Feedback(
            trace_id=t,
            name="policy",
            value="no" if n % 2 else "yes",
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ana"),
        )
        for n, t in enumerate(chosen[:10])
    ]
    get_store().log_assessments(experts)  # experts label some judged traces afterwards
    later = monitor.cycle()
    assert later["new"] == 0 and later["labelled"] == 10 and later["kappa"] < 0.5
    assert any(line.startswith("ALERT FIRING kappa<0.5") for line in lines)


def test_cli_monitor_runs_its_cycles_and_refuses_a_bad_alert(tmp_path: Path) -> None:
    experiment = accord.set_experiment("cli-prod")
    _add(experiment.experiment_id, 0, 6, promise=True)
    spec = tmp_path / "judge.yaml"
    spec.write_text(
        "name: policy\ninstructions: 'Is {{ outputs }} within policy?'\nmodel: 'fake:'\n"
        "feedback_value_type: \"Literal['yes', 'no']\"\n"
    )
    runner = CliRunner()
    assert runner.invoke(app, ["judges", "create", str(spec)]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "monitor",
            "-e",
            "cli-prod",
            "-j",
            "policy",
            "--interval",
            "0",
            "--cycles",
            "2",
            "--alert",
            "errors>0.5",
            "--alert",
            "yes_rate>0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ALERT FIRING yes_rate>0.5" in result.output and "errors>0.5" not in result.output.split("ALERT")[-1]
    assert "new=6" in result.output and "new=0" in result.output
    bad = runner.invoke(app, ["monitor", "-e", "cli-prod", "-j", "policy", "--alert", "kappa is low"])
    assert bad.exit_code == 1 and "cannot read the alert 'kappa is low'" in bad.output
    with pytest.raises(ConfigError, match="--sample"):
        Monitor("cli-prod", accord.get_judge("policy"), sample=0)


def test_an_alert_is_kept_until_a_receiver_accepts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import accord.monitoring as monitoring

    monkeypatch.setattr(monitoring, "RETRY_FIRST_S", 0.0)
    exp = get_store().get_or_create_experiment("prod")
    judge = _judge()
    receiver = Receiver(failures=2)
    lines: list[str] = []
    try:
        _add(exp.experiment_id, 0, 6, promise=True)
        monitor = Monitor("prod", judge, alerts=[Alert.parse("no_rate>0.3")], webhook=receiver.url, emit=lines.append)
        first = monitor.cycle()
        assert first["alerts_pending"] == 1 and receiver.posts == []
        assert any("failed (HTTP 500); the alert no_rate>0.3 is kept" in line for line in lines)
        assert monitor.cycle()["alerts_pending"] == 1  # a second 500
        # a monitor killed here and started again still delivers it
        restarted = Monitor("prod", judge, alerts=[Alert.parse("no_rate>0.3")], webhook=receiver.url, emit=lines.append)
        assert restarted.cycle()["alerts_pending"] == 0
        assert [p["alert"] for p in receiver.posts] == ["no_rate>0.3"] and receiver.tries == 3
    finally:
        receiver.close()


def test_a_receiver_that_trickles_its_answer_cannot_hold_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    import accord.monitoring as monitoring

    monkeypatch.setattr(monitoring, "WEBHOOK_DEADLINE_S", 2.0)
    exp = get_store().get_or_create_experiment("prod")
    receiver = Receiver(trickle=True)
    try:
        _add(exp.experiment_id, 0, 4, promise=True)
        monitor = Monitor("prod", _judge(), alerts=[Alert.parse("no_rate>0.3")], webhook=receiver.url, emit=print)
        started = time.monotonic()
        assert monitor.cycle()["alerts_pending"] == 1
        assert time.monotonic() - started < 8
    finally:
        receiver.close()


def test_a_rate_alert_on_a_verdict_absent_from_the_window_fires_and_resolves() -> None:
    exp = get_store().get_or_create_experiment("prod")
    judge = _judge()
    lines: list[str] = []
    _add(exp.experiment_id, 0, 5, promise=True)  # every verdict 'no'
    monitor = Monitor(
        "prod", judge, alerts=[Alert.parse("yes_rate<0.5"), Alert.parse("no_rate>0.5")], emit=lines.append
    )
    figures = monitor.cycle()
    assert figures["yes_rate"] == 0.0 and set(figures["alerts_firing"]) == {"yes_rate<0.5", "no_rate>0.5"}
    _add(exp.experiment_id, 5, 20)  # then a window of only 'yes'
    monitor.window = 20
    figures = monitor.cycle()
    assert figures["no_rate"] == 0.0 and figures["alerts_firing"] == []
    assert any(line.startswith("ALERT RESOLVED no_rate>0.5") for line in lines)
