"""Diagnosis: the evidence behind a warning, and similar past maintenance cases (DESIGN.md §7, issue 19).

Owns evidence assembly (:func:`diagnose`: per-modality occlusion beside the fusion weights, telemetry
channels and time ranges against the asset's healthy baseline, vibration bands named by bearing defect
frequencies, frame heat maps and PatchCore anomaly maps, weighty log lines) and the maintenance-case index and
its retrieval.

A diagnosis carries the nearest past cases by the window's fused state and the actions that fixed them
(:mod:`.similar`), and renders as a self-contained HTML card in English and Chinese (:mod:`.card`, not imported
here: it draws with the evaluation report's SVG kit, translator and stylesheet).

It scores windows only through the bundle's :class:`~omnimaint.inference.predictor.Predictor`. It may import
:mod:`omnimaint.data`, :mod:`omnimaint.models`, :mod:`omnimaint.inference`, the simulator's bearing geometry
and PNG encoder, and (for the card only) :mod:`omnimaint.evaluation.report`; it must never import
:mod:`omnimaint.training` or :mod:`omnimaint.service`. :mod:`omnimaint.evaluation` does not import the card:
``omnimaint evaluate`` makes the cards in the command line and passes the report their links.
"""

from omnimaint.diagnosis.case_builder import CaseBaseConfig, build_case_base
from omnimaint.diagnosis.case_evaluation import evaluate_suggestions
from omnimaint.diagnosis.case_store import CaseSearch, add_case_base, build_cases, load_case_base, search_cases
from omnimaint.diagnosis.cases import Case, CaseBase, CaseMatch, Suggestion, suggest
from omnimaint.diagnosis.deletion import deletion_scores
from omnimaint.diagnosis.evidence import (
    BaselineSummary,
    Diagnosis,
    Likelihood,
    ModalityEvidence,
    diagnose,
)
from omnimaint.diagnosis.frames import FrameAnomalyEvidence, FrameEvidence
from omnimaint.diagnosis.logs import LogLineEvidence
from omnimaint.diagnosis.retrieval import HybridRetriever
from omnimaint.diagnosis.similar import PastCases, SimilarCase
from omnimaint.diagnosis.spectrum import SpectralBand, SpectrumEvidence
from omnimaint.diagnosis.telemetry import ChannelEvidence, TelemetryEvidence, TimeRange

__all__ = [
    "BaselineSummary",
    "Case",
    "CaseBase",
    "CaseBaseConfig",
    "CaseMatch",
    "CaseSearch",
    "ChannelEvidence",
    "Diagnosis",
    "FrameAnomalyEvidence",
    "FrameEvidence",
    "HybridRetriever",
    "Likelihood",
    "LogLineEvidence",
    "ModalityEvidence",
    "PastCases",
    "SimilarCase",
    "SpectralBand",
    "SpectrumEvidence",
    "Suggestion",
    "TelemetryEvidence",
    "TimeRange",
    "add_case_base",
    "build_case_base",
    "build_cases",
    "deletion_scores",
    "diagnose",
    "evaluate_suggestions",
    "load_case_base",
    "search_cases",
    "suggest",
]
