"""Production monitoring: `accord monitor` judges new traces at a sampling rate, keeps rolling figures and
raises alerts when a figure crosses a threshold.

- Sampling is a pure function of the judge version and the trace id, so a restart picks the same traces:
  those already judged are skipped and none is missed (nothing judged twice, nothing skipped).
- Each cycle's figures (verdict rates, error rate, and agreement with human feedback that arrived later on
  judged traces) are stored, for the review page's chart and so that a restart knows which alerts fire.
- An alert (`kappa<0.4`, `no_rate>0.3`, `errors>0.05`) is written as one line when it starts firing and
  when it clears, and POSTed as JSON to a webhook when one is given; a webhook that fails is reported and
  tried again at the next change, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.entities import now_ms
from accord.errors import ConfigError
from accord.evaluation import evaluate
from accord.judges import Judge
from accord.metrics import agreement, human_label, is_abstention
from accord.store import get_store

log = logging.getLogger("accord.monitor")

_ALERT = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
MIN_LABELLED = 5  # agreement figures need at least this many human-labelled judged traces


@dataclass(frozen=True)
class Alert:
    metric: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Alert:
        match = _ALERT.match(text)
        if not match:
            raise ConfigError(
                f"cannot read the alert {text!r}: write METRIC<VALUE or METRIC>VALUE, e.g. 'kappa<0.4', "
                "'no_rate>0.3', 'errors>0.05'"
            )
        return cls(match.group(1), match.group(2), float(match.group(3)))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    def firing(self, figures: dict[str, Any]) -> bool | None:
        """Whether the figure crosses the threshold; None while the figure is not known yet."""
        value = figures.get(self.metric)
        if not isinstance(value, (int, float)):
            return None
        return _OPS[self.op](float(value), self.threshold)


def _spelled(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _verdict_names(judge: Judge) -> list[str]:
    """Every verdict a two-verdict or categorical judge can give, spelled as its rate's name."""
    kind = judge.value_type.kind
    if kind == "bool":
        return ["true", "false"]
    if kind == "categorical":
        return [_spelled(c).lower() for c in judge.value_type.categories]
    return []


def sampled(judge_key: str, trace_id: str, rate: float) -> bool:
    """The same answer for the same judge version and trace, in every process and after every restart."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{judge_key}\x1f{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def rolling_figures(judge: Judge, traces: Sequence[Any], include_learned: bool = False) -> dict[str, Any]:
    """Figures over judged traces: verdict rates (`<value>_rate`), error rate, and agreement with HUMAN
    feedback named like the judge, where enough of those traces have it, leaving out the traces the judge
    learned from (`learned_left_out`) unless `include_learned`."""
    figures: dict[str, Any] = {"n": 0, "errors": None}
    verdicts = []
    for trace in traces:
        mine = [
            v
            for v in trace.search_assessments(name=judge.name, type="feedback", source_type=judge.source_type, all=True)
            if v.metadata.get("judge_key") == judge.key
        ]
        if mine:
            verdicts.append((trace, mine[-1]))
    figures["n"] = len(verdicts)
    if not verdicts:
        return figures
    good = [(t, v) for t, v in verdicts if v.error is None and not is_abstention(v)]
    abstained = sum(1 for _, v in verdicts if v.error is None and is_abstention(v))
    figures["errors"] = round(1 - (len(good) + abstained) / len(verdicts), 4)
    figures["abstain_rate"] = round(abstained / len(verdicts), 4)  # alert on it: `--alert 'abstain_rate>0.3'`
    counts = Counter(_spelled(v.value).lower() for _, v in good)
    for value in _verdict_names(judge):  # a verdict the window lacks has rate 0, so `yes_rate<0.5` can fire
        counts.setdefault(value, 0)
    for value, count in counts.items():
        figures[f"{re.sub(r'[^a-z0-9]+', '_', value)}_rate"] = round(count / len(verdicts), 4)
    learned = frozenset() if include_learned else judge.learned_from
    labelled_good = [(t, v) for t, v in good if human_label(t, judge.name) is not None]
    labelled = [(human_label(t, judge.name), v.value) for t, v in labelled_good if t.trace_id not in learned]
    figures["labelled"] = len(labelled)
    figures["learned_left_out"] = len(labelled_good) - len(labelled)
    if len(labelled) >= MIN_LABELLED:
        found = agreement([_spelled(h) for h, _ in labelled], [_spelled(j) for _, j in labelled], n_boot=200)
        figures["accuracy"] = round(found.accuracy, 4)
        if found.kappa_defined:
            figures["kappa"] = round(found.cohen_kappa, 4)
    return figures


FIGURES = ("kappa", "accuracy", "errors", "abstain_rate", "n", "labelled", "learned_left_out")
WEBHOOK_DEADLINE_S = 10.0  # for the whole POST, even from a receiver that trickles its answer
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 600.0


def _host(url: str) -> str:
    import httpx

    try:
        return httpx.URL(url).host or "the webhook"
    except Exception:
        return "the webhook"


def _post(url: str, payload: dict[str, Any], deadline_s: float) -> str | None:
    """None when the receiver accepted the alert (2xx) within `deadline_s` seconds in all, else what went
    wrong. The POST runs in a daemon thread so that a receiver sending its answer a byte at a time cannot
    hold a cycle past the deadline (httpx's timeouts apply per read)."""
    import threading

    import httpx

    outcome: list[str | None] = []

    def send() -> None:
        try:
            answer = httpx.post(url, json=payload, timeout=deadline_s)
            outcome.append(None if answer.is_success else f"HTTP {answer.status_code}")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=send, daemon=True, name="accord-webhook")
    worker.start()
    worker.join(deadline_s)
    return outcome[0] if outcome else f"no answer within {deadline_s:g} s"


@dataclass
class Monitor:
    experiment: str
    judge: Judge
    sample: float = 1.0
    alerts: Sequence[Alert] = ()
    webhook: str | None = None
    window: int = 200
    concurrency: int = 4
    emit: Callable[[str], None] = print
    firing: set[str] = field(default_factory=set)
    include_learned: bool = False  # agreement also on the traces the judge learned from (flattering)

    def __post_init__(self) -> None:
        if not 0 < self.sample <= 1:
            raise ConfigError(f"--sample must be above 0 and at most 1, not {self.sample}")
        known = [*FIGURES, *(f"{re.sub(r'[^a-z0-9]+', '_', v)}_rate" for v in _verdict_names(self.judge))]
        for alert in self.alerts:  # a misspelt figure would never fire: refused, with the figures there are
            if alert.metric not in known and not (alert.metric.endswith("_rate") and not _verdict_names(self.judge)):
                raise ConfigError(f"cannot alert on {alert.metric!r}: the figures are {', '.join(known)}")
        store = get_store()
        self.experiment_id = store.resolve_experiment(self.experiment).experiment_id
        self.key = f"{self.experiment_id}|{self.judge.key}|{self.sample:g}"
        last = store.monitor_points(self.experiment_id, monitor_key=self.key, limit=1)
        if last:  # a restart: the alerts that were firing stay firing (no second alert for the same crossing)
            self.firing = set(last[-1]["figures"].get("alerts_firing", []))

    def cycle(self) -> dict[str, Any]:
        """Judge the sampled traces not judged yet, store the figures over the newest `window` of them, and
        return the figures (with the alerts that started or stopped firing)."""
        store = get_store()
        ids = store.search_trace_ids([self.experiment_id], newest_first=False)
        chosen = [i for i in ids if sampled(self.judge.key, i, self.sample)]
        judged = store.judged_trace_ids(
            self.experiment_id, self.judge.name, self.judge.key, self.judge.source_type.value
        )
        todo = [i for i in chosen if i not in judged]
        result = evaluate(store.get_traces(todo), [self.judge], self.concurrency, show_progress=False) if todo else None
        recent = store.get_traces(chosen[-self.window :])
        figures = rolling_figures(self.judge, recent, self.include_learned)
        figures.update({"new": len(result.verdicts) if result else 0, "sampled_total": len(chosen)})
        started, stopped = [], []
        for alert in self.alerts:
            state = alert.firing(figures)
            if state and str(alert) not in self.firing:
                started.append(alert)
                self.firing.add(str(alert))
            elif state is False and str(alert) in self.firing:
                stopped.append(alert)
                self.firing.discard(str(alert))
        figures["alerts_firing"] = sorted(self.firing)
        stamp = now_ms()
        changes = [(alert, "firing") for alert in started] + [(alert, "resolved") for alert in stopped]
        payloads = [self._payload(alert, figures, state, stamp) for alert, state in changes]
        # the figures and the alerts to send are saved together, before any POST: a receiver that fails or
        # hangs, or a monitor killed mid-POST, never loses an alert
        store.add_monitor_point(
            self.key, self.experiment_id, self.judge.key, stamp, figures, payloads if self.webhook else ()
        )
        for payload in payloads:
            self.emit(
                f"ALERT {payload['state'].upper()} {payload['alert']}: {payload['metric']}={payload['value']} over "
                f"{figures['n']} judged traces (judge {self.judge.key}, experiment {self.experiment}, "
                f"{payload['time']})"
            )
        if self.webhook:
            figures["alerts_pending"] = self.deliver()
        return figures

    def _payload(self, alert: Alert, figures: dict[str, Any], state: str, stamp: int) -> dict[str, Any]:
        return {
            "alert": str(alert),
            "state": state,
            "metric": alert.metric,
            "value": figures.get(alert.metric),
            "threshold": alert.threshold,
            "judge": self.judge.key,
            "experiment": self.experiment,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp / 1000)),
            "figures": {k: v for k, v in figures.items() if k != "alerts_pending"},
        }

    def deliver(self) -> int:
        """POST every alert whose next try is due, oldest first; one the receiver accepts (2xx) is done,
        any other answer, a timeout or a refused connection is tried again at a later cycle, after a
        backoff that doubles from RETRY_FIRST_S to RETRY_MAX_S. Returns how many are still waiting."""
        assert self.webhook is not None
        store = get_store()
        host = _host(self.webhook)  # never the whole URL in output: it may carry a secret
        for alert_id, payload, attempts in store.due_alerts(self.key, now_ms()):
            error = _post(self.webhook, payload, WEBHOOK_DEADLINE_S)
            if error is None:
                store.alert_delivered(alert_id)
                continue
            wait = min(RETRY_FIRST_S * 2**attempts, RETRY_MAX_S)
            store.alert_failed(alert_id, now_ms() + int(wait * 1000), error)
            self.emit(
                f"webhook to {host} failed ({error}); the alert {payload['alert']} is kept and tried again in "
                f"{wait:g} s"
            )
        return store.pending_alerts(self.key)

    def run(self, interval: float = 60.0, cycles: int | None = None) -> None:
        """Cycle every `interval` seconds until stopped (Ctrl-C), or `cycles` times."""
        done = 0
        while cycles is None or done < cycles:
            figures = self.cycle()
            done += 1
            shown = ", ".join(f"{k}={v}" for k, v in figures.items() if k not in ("alerts_firing",))
            log.info("monitor %s: %s", self.judge.key, shown)
            self.emit(f"{time.strftime('%H:%M:%S')} {self.judge.key}: {shown}")
            if cycles is None or done < cycles:
                time.sleep(interval)
