"""Similar past cases and suggested actions for one diagnosed window, or the reason there are none.

Owns :class:`PastCases` (what a :class:`~omnimaint.diagnosis.evidence.Diagnosis` says about the plant's
history) and :func:`past_cases`, which reads the window's fused state through the bundle's
:class:`~omnimaint.inference.predictor.Predictor` (PyTorch backend only: an ONNX graph returns the heads'
outputs, not the state) and finds the nearest cases of the case base (:meth:`CaseBase.similar_cases`) among
those opened before the diagnosed time, then ranks their actions (:func:`~omnimaint.diagnosis.cases.suggest`).
A missing case base, an ONNX backend or a case base without states is not an error: the reason is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from omnimaint.data.windows import Batch
from omnimaint.diagnosis.case_store import CASES_FILE, load_case_base
from omnimaint.diagnosis.cases import CaseBase, Suggestion, suggest
from omnimaint.errors import ConfigError
from omnimaint.inference.bundle_files import BundleError
from omnimaint.inference.predictor import Predictor

NO_CASE_BASE = "the bundle has no case base (build one with `omnimaint cases build BUNDLE DATASET`)"


@dataclass(frozen=True)
class SimilarCase:
    """A past corrective work order whose fused state before its failure is near the diagnosed window's.

    Attributes:
        case_id: Its work-order id.
        asset_id: The machine.
        component: The component worked on.
        fault_type: The fault of the failure it closed.
        failure_at: When that failure happened (ISO-8601 UTC).
        problem: Problem text.
        action: What was done.
        outcome: Whether the fix held (``held``, ``failed_again`` or ``unknown``).
        similarity: Cosine similarity of the fused states.
    """

    case_id: str
    asset_id: str
    component: str | None
    fault_type: str | None
    failure_at: str | None
    problem: str
    action: str
    outcome: str
    similarity: float


@dataclass(frozen=True)
class PastCases:
    """The plant's history for a diagnosis: the nearest past cases and the actions that fixed them.

    Attributes:
        cases: The nearest cases, nearest first (empty when ``unavailable``).
        suggestions: The actions of the ``voters`` nearest cases, best first, each with how often it held.
        unavailable: Why there are none (no case base, no fused state on this backend, no states in the case
            base, no case before the diagnosed time); ``None`` when they were looked up.
        why: What ``unavailable`` says, as a code a translated page can word: ``"no_case_base"``,
            ``"none_before"``, or ``"error"`` (the case base or the backend could not give them).
    """

    cases: tuple[SimilarCase, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    unavailable: str | None = None
    why: Literal["no_case_base", "none_before", "error"] | None = None


def bundle_case_base(predictor: Predictor) -> CaseBase | None:
    """The case base stored in the predictor's bundle (without its text encoder), ``None`` when it has none.

    Raises:
        BundleError: if the case base is there but changed or malformed.
    """
    if CASES_FILE not in predictor.bundle.files:
        return None
    return load_case_base(predictor.bundle, load_encoder=False)


def past_cases(
    predictor: Predictor,
    window: Batch,
    case_base: CaseBase | None,
    *,
    asset_type: str,
    before: datetime,
    k: int = 5,
    voters: int = 20,
) -> PastCases:
    """The ``k`` cases nearest to ``window`` (one window) and the actions of the ``voters`` nearest.

    Args:
        predictor: The bundle's predictor (its fused state is read on the PyTorch backend only).
        window: The diagnosed window, a batch of one.
        case_base: The case base (``None``: the bundle has none).
        asset_type: Cases of machines of this type are preferred (when there are any).
        before: Only cases opened before this time count (the diagnosis must not see the future).
        k: Cases kept.
        voters: Cases whose actions are ranked (at least ``k``).
    """
    if case_base is None:
        return PastCases(unavailable=NO_CASE_BASE, why="no_case_base")
    try:
        state = predictor.fused_state(window)[0]  # (D,)
        nearest = case_base.similar_cases(state, max(k, voters), asset_type=asset_type, before=before)
    except (BundleError, ConfigError) as exc:
        return PastCases(unavailable=str(exc), why="error")
    if not nearest:
        return PastCases(
            unavailable=f"no case of the case base was opened before {before.isoformat()}", why="none_before"
        )
    cases = tuple(
        SimilarCase(
            case_id=m.case.case_id,
            asset_id=m.case.asset_id,
            component=m.case.component,
            fault_type=m.case.fault_type,
            failure_at=m.case.failure_at.isoformat() if m.case.failure_at is not None else None,
            problem=m.case.problem,
            action=m.case.action,
            outcome=m.case.outcome,
            similarity=m.score,
        )
        for m in nearest[:k]
    )
    return PastCases(cases=cases, suggestions=tuple(suggest(nearest, case_base.actions)))
