"""Does the suggested fix match the true one? The case base measured on held-out machines of a plant.

The assets are split as ``omnimaint train`` splits them by default (stratified by asset type, shares
``fractions``, ``seed``): the case base is built from the training and validation assets' work orders, and
every failure of a held-out (test) asset that a corrective work order with a problem text closed is a query:

- ``text``: the problem text of that work order (what the technician wrote on opening it, before the cause
  was known) searched by :meth:`~omnimaint.diagnosis.cases.CaseBase.search`;
- ``state``: the model's fused state of the window ending ``state_lead`` before the failure, searched by
  :meth:`~omnimaint.diagnosis.cases.CaseBase.similar_cases` (only with a model bundle that fits the data).

The true fix of a failure is the repair of its fault type. The top suggestion matches it when the cases
that took the suggested action closed failures of that fault type (their majority, ground truth of the
``failures`` table). Beside it: always suggesting the most frequent action (the majority baseline).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.splits import assign_assets
from omnimaint.data.windows import micros
from omnimaint.diagnosis.case_builder import (
    CaseBaseConfig,
    FailureRecords,
    build_case_base,
    corrective_orders,
    fused_states,
    link_failures,
)
from omnimaint.diagnosis.cases import CaseBase, CaseMatch, suggest
from omnimaint.diagnosis.retrieval import bundle_text_encoder_spec, load_text_encoder
from omnimaint.errors import ConfigError
from omnimaint.inference.bundle import Bundle


@dataclass(frozen=True)
class SuggestionScores:
    """Top-suggestion accuracy on held-out failures.

    Attributes:
        n_cases: Cases in the case base (training and validation assets).
        n_queries: Held-out failures closed by a work order.
        text: Fraction whose top suggestion from a text search matches the true fix.
        state: The same from a fused-state search (``None`` without states).
        majority: The same for always suggesting the most frequent action.
        test_assets: The held-out assets.
    """

    n_cases: int
    n_queries: int
    text: float
    state: float | None
    majority: float
    test_assets: tuple[str, ...]


def group_faults(case_base: CaseBase) -> list[str | None]:
    """Per action group, the fault type most of its cases closed (``None`` when none is known)."""
    counts: list[Counter[str]] = [Counter() for _ in case_base.actions]
    for case in case_base.cases:
        if case.fault_type is not None:
            counts[case.action_group][case.fault_type] += 1
    return [c.most_common(1)[0][0] if c else None for c in counts]


def _top_fault(matches: list[CaseMatch], case_base: CaseBase, faults: list[str | None]) -> str | None:
    suggestions = suggest(matches, case_base.actions)
    if not suggestions:
        return None
    group = next(m.case.action_group for m in matches if m.case.case_id in suggestions[0].case_ids)
    return faults[group]


def evaluate_suggestions(
    bundle_path: Path,
    dataset_path: Path,
    *,
    voters: int = 20,
    states: bool = True,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    config: CaseBaseConfig | None = None,
) -> SuggestionScores:
    """Measure the top suggestion on the held-out assets of ``dataset_path`` (see the module docstring).

    Args:
        bundle_path: The bundle whose text encoder (and, with ``states``, model) is used.
        dataset_path: A plant with ``maintenance``, ``failures`` and ``assets``.
        voters: Similar cases whose actions are ranked.
        states: Also measure the fused-state search (needs a model bundle that fits the dataset).
        fractions: Train/validation/test shares of the assets.
        seed: Seed of the asset split.
        config: Case-base settings.

    Raises:
        ConfigError: if the dataset has no failures or assets table, or no held-out failure has a work order.
    """
    from omnimaint.inference.predictor import Predictor

    dataset = Dataset(dataset_path)
    if not (dataset.has("failures") and dataset.has("assets")):
        raise ConfigError(f"{dataset.path}: measuring suggestions needs the failures and assets tables")
    config = config or CaseBaseConfig()
    split = assign_assets(dataset.table("assets"), fractions, seed)
    bundle = Bundle.load(bundle_path)
    spec = bundle_text_encoder_spec(bundle)
    predictor = Predictor(bundle) if states and bundle.kind == "model" else None
    case_base = build_case_base(
        dataset,
        load_text_encoder(spec, bundle),
        spec,
        predictor=predictor,
        config=config,
        assets=split["train"] | split["val"],
    )
    queries = corrective_orders(dataset, split["test"])
    links = link_failures(queries, FailureRecords.of(dataset), config.link_within)
    known = (links["failure_at"].notna() & (queries["problem"].fillna("").str.strip() != "")).to_numpy()
    queries, links = queries[known].reset_index(drop=True), links[known].reset_index(drop=True)
    if queries.empty:
        raise ConfigError(f"{dataset.path}: no failure of the held-out assets {sorted(split['test'])} has a work order")
    faults = group_faults(case_base)
    truth = links["fault_type"].to_numpy()
    text_hits = [
        _top_fault(case_base.search(str(problem), voters), case_base, faults) == fault
        for problem, fault in zip(queries["problem"], truth, strict=True)
    ]
    state_score = None
    if predictor is not None and case_base.n_states:
        lead = timedelta(hours=case_base.state_lead_hours or 0.0)
        at = links["failure_at"] - pd.Timedelta(microseconds=micros(lead))
        found = fused_states(predictor, dataset, queries["asset_id"], at, config.batch_size, progress=False)
        state_hits = [
            _top_fault(case_base.similar_cases(vector, voters), case_base, faults) == fault
            for vector, fault in zip(found, truth, strict=True)
        ]
        state_score = float(np.mean(state_hits))
    frequent = Counter(c.action_group for c in case_base.cases).most_common(1)[0][0]
    return SuggestionScores(
        n_cases=len(case_base),
        n_queries=len(queries),
        text=float(np.mean(text_hits)),
        state=state_score,
        majority=float(np.mean(truth == faults[frequent])),
        test_assets=tuple(sorted(split["test"])),
    )
