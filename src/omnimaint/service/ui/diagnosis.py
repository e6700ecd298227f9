"""The diagnosis behind an alarm, computed on demand from the live store through the service's Predictor.

The alarm's window ends at ``opened_at_us`` (the data time of the window that raised it). Its asset's rows are
read from the store into a :class:`~omnimaint.data.dataset.MemoryDataset` the way the streaming scorer reads
them (telemetry from the roll-up at the bundle's step, every other modality as far back as the bundle's window
reaches), over :data:`HISTORY` before the alarm so that :func:`~omnimaint.diagnosis.diagnose` finds the asset's
healthy baseline in its recent past; then ``diagnose`` occludes and re-scores through the same Predictor. Nothing
is re-implemented here.

A diagnosis costs a few forward passes (about a second on one core): it runs once per alarm, one at a time (a
burst of clicks cannot starve the scorer), and the rendered card is kept per alarm and language
(:data:`CACHED` alarms, least recently used dropped). The data before an alarm's window does not change, so a kept
card stays true. A diagnosis that fails is not kept: the page says why, and the next visit tries again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlalchemy import select

from omnimaint.data.dataset import MemoryDataset
from omnimaint.data.manifest import Manifest
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.data.windows import micros
from omnimaint.diagnosis import Diagnosis, diagnose
from omnimaint.errors import OmnimaintError
from omnimaint.inference.predictor import Predictor
from omnimaint.service import db
from omnimaint.service.store import LiveStore
from omnimaint.service.ui.cases import CaseLibrary

logger = logging.getLogger(__name__)

HISTORY = timedelta(days=30)
"""How far before an alarm its asset's history is read for the healthy baseline (bounds the cost of the read)."""
CACHED = 64


@dataclass(frozen=True)
class DiagnosisOutcome:
    """A rendered card, or why there is none (``error``: one line for the page)."""

    html: str | None
    error: str | None = None


class AlarmDiagnoses:
    """Diagnoses of alarms, made on demand and kept rendered.

    Args:
        store: The live store.
        predictor: The service's predictor (the bundle that scores the alarms).
        cases: The bundle's case library (the case base is loaded once for every diagnosis).
        cached: Alarms whose diagnosis is kept.
    """

    def __init__(self, store: LiveStore, predictor: Predictor, cases: CaseLibrary, cached: int = CACHED) -> None:
        self.store = store
        self.predictor = predictor
        self.cases = cases
        self.cached = cached
        self._diagnoses: OrderedDict[int, Diagnosis] = OrderedDict()
        self._cards: dict[tuple[int, str], str] = {}
        self._compute = threading.Lock()  # one diagnosis at a time
        self._lock = threading.Lock()  # guards the two caches

    def card(self, alarm_id: int, lang: str, render: Callable[[Diagnosis], str]) -> DiagnosisOutcome:
        """The card of alarm ``alarm_id`` in ``lang`` (``render`` draws it from the diagnosis, once per language)."""
        with self._lock:
            if (alarm_id, lang) in self._cards:
                self._diagnoses.move_to_end(alarm_id)
                return DiagnosisOutcome(self._cards[(alarm_id, lang)])
        try:
            diagnosis = self.diagnosis(alarm_id)
        except (OmnimaintError, LookupError, ValueError) as exc:
            logger.info("alarm %s: no diagnosis (%s)", alarm_id, exc)
            return DiagnosisOutcome(None, str(exc).splitlines()[0])
        except Exception as exc:  # a bug must not break the alarm page: it says so, and the log has the trace
            logger.exception("alarm %s: the diagnosis failed", alarm_id)
            return DiagnosisOutcome(None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        html = render(diagnosis)
        with self._lock:
            if alarm_id in self._diagnoses:
                self._cards[(alarm_id, lang)] = html
        return DiagnosisOutcome(html)

    def diagnosis(self, alarm_id: int) -> Diagnosis:
        """The diagnosis of alarm ``alarm_id`` at the window that raised it (computed once, then kept).

        Raises:
            LookupError: if there is no such alarm.
            OmnimaintError: if the asset's data cannot be diagnosed at that time (a ``ConfigError`` says why).
        """
        with self._compute:
            with self._lock:
                if alarm_id in self._diagnoses:
                    return self._diagnoses[alarm_id]
            with self.store.engine.connect() as connection:
                alarm = connection.execute(
                    select(db.alarms.c.asset_id, db.alarms.c.opened_at_us).where(db.alarms.c.id == alarm_id)
                ).one_or_none()
            if alarm is None:
                raise LookupError(f"alarm {alarm_id} does not exist")
            dataset = self.dataset(alarm.asset_id, alarm.opened_at_us)
            case_base = self.cases.case_base()
            diagnosis = diagnose(
                self.predictor,
                dataset,
                alarm.asset_id,
                pd.Timestamp(alarm.opened_at_us, unit="us", tz="UTC"),
                case_base=case_base if case_base is not None else "bundle",
            )
            with self._lock:
                self._diagnoses[alarm_id] = diagnosis
                while len(self._diagnoses) > self.cached:
                    dropped, _ = self._diagnoses.popitem(last=False)
                    self._cards = {key: card for key, card in self._cards.items() if key[0] != dropped}
            return diagnosis

    def dataset(self, asset_id: str, at_us: int) -> MemoryDataset:
        """The asset's rows up to ``at_us`` as the bundle's windows read them, over :data:`HISTORY` before it."""
        spec = self.predictor.bundle.window
        since = at_us - micros(HISTORY)
        spans: dict[str, dict[str, tuple[int | None, int]]] = {}
        for modality in spec.enabled:
            reach = spec.reach(modality)
            spans[modality] = {asset_id: (None if reach is None else since - micros(reach), at_us)}
        step = micros(spec.telemetry.step) if spec.telemetry is not None else None
        tables = self.store.window_tables(spans, telemetry_step_us=step)
        manifest = Manifest(schema_version=SCHEMA_VERSION, name="live store")
        return MemoryDataset(manifest, tables, self.store.root, source="live store")
