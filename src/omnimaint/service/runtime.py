"""The scoring side shared by ``serve`` (its scorer thread) and ``worker``: the streaming scorer with the
alarm engine in its transaction and the notifier after its commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from omnimaint.data.windows import micros
from omnimaint.inference.predictor import HealthOutput, Predictor
from omnimaint.service.alarms import AlarmRecorder
from omnimaint.service.metrics import ServiceMetrics
from omnimaint.service.notify import Notifier
from omnimaint.service.rules import alarm_rules
from omnimaint.service.scorer import StreamingScorer
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore


def build_scorer(
    store: LiveStore,
    predictor: Predictor,
    settings: ServiceSettings,
    *,
    name: str = "service",
    metrics: ServiceMetrics | None = None,
) -> tuple[StreamingScorer, Notifier]:
    """A scorer whose rounds run the alarm engine and whose committed alarm changes are notified.

    Returns:
        The scorer, and its notifier (started; stop it after the scorer).
    """
    bundle = predictor.bundle
    vocab = bundle.preprocessor.vocab
    recorder = AlarmRecorder(alarm_rules(bundle, settings.alarm_rules), vocab.components, vocab.fault_classes)
    notifier = Notifier(settings.notify)
    notifier.start()

    def after_scores(connection: Connection, output: HealthOutput) -> list[dict[str, Any]]:
        changed = recorder(connection, output)
        if metrics is not None:
            metrics.observe_scores(connection, output)
            for row in changed:
                metrics.alarm_changes.labels(row["transition"]).inc()
        return changed

    scorer = StreamingScorer(
        store,
        predictor,
        lateness_us=micros(settings.lateness),
        max_anchors=settings.max_anchors,
        after_scores=after_scores,
        after_commit=notifier.submit,
        name=name,
    )
    return scorer, notifier
