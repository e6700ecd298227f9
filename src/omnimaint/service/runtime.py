"""The scoring side shared by ``serve`` (its scorer process or thread) and ``worker``: the streaming scorer
with the alarm engine in its transaction and the notifier after its commit."""

from __future__ import annotations

from typing import Any

from omnimaint.data.windows import micros
from omnimaint.inference.predictor import HealthOutput, Predictor
from omnimaint.service.alarms import AlarmRecorder
from omnimaint.service.notify import Notifier
from omnimaint.service.rules import alarm_rules
from omnimaint.service.scorer import AfterCommit, StreamingScorer
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore


def build_scorer(
    store: LiveStore,
    predictor: Predictor,
    settings: ServiceSettings,
    *,
    name: str = "service",
    on_scored: AfterCommit | None = None,
) -> tuple[StreamingScorer, Notifier]:
    """A scorer whose rounds run the alarm engine and whose committed alarm changes are notified.

    Args:
        on_scored: Also told of every committed round (the service's metrics).

    Returns:
        The scorer, and its notifier (started; stop it after the scorer).
    """
    bundle = predictor.bundle
    vocab = bundle.preprocessor.vocab
    recorder = AlarmRecorder(alarm_rules(bundle, settings.alarm_rules), vocab.components, vocab.fault_classes)
    notifier = Notifier(settings.notify)
    notifier.start()

    def after_commit(output: HealthOutput, changed: list[dict[str, Any]]) -> None:
        if changed:
            notifier.submit(changed)
        if on_scored is not None:
            on_scored(output, changed)

    scorer = StreamingScorer(
        store,
        predictor,
        lateness_us=micros(settings.lateness),
        max_anchors=settings.max_anchors,
        after_scores=recorder,
        after_commit=after_commit,
        name=name,
    )
    return scorer, notifier
