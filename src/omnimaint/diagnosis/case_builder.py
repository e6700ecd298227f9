"""Building a case base from a plant's maintenance history (a canonical :class:`~omnimaint.data.dataset.Dataset`).

Every corrective work order with a problem or an action text becomes a case. It is linked to the failure it
closed: the nearest failure of the same asset (and component, when both name one) recorded from
``link_within`` before the order opened until it closed; the failure gives the case its fault type. Its fix
*held* when no failure of the same asset and component followed within ``recurrence`` of its closing (a
sloppy repair shows up as an early repeat failure), *failed again* when one did, and is *unknown* when the
data end too early to say or record no failures at all.

Orders that did the same thing in other words share an action group: first by identical normalised text,
then by greedy leader clustering: an action joins the group of the most similar more frequent action whose
text embedding has a cosine of at least ``action_similarity`` with it and whose words (character bigrams for
Chinese) overlap with its own by at least ``action_overlap``; the most frequent wording names the group.

With a :class:`~omnimaint.inference.predictor.Predictor`, each case linked to a failure also gets the
model's fused state of the window ending ``state_lead`` before that failure (by default a sixth of the
bundle's shortest horizon: close enough to the failure for its signature to show, see
:data:`STATE_LEAD_FRACTION`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from omnimaint.baselines.bm25 import tokenize
from omnimaint.data.dataset import Dataset
from omnimaint.data.item_index import micros_of
from omnimaint.data.schema import TABLES
from omnimaint.data.windows import micros, timestamps_us
from omnimaint.diagnosis.cases import Case, CaseBase, Outcome
from omnimaint.diagnosis.retrieval import TextEncoder, TextEncoderSpec, action_key
from omnimaint.errors import ConfigError
from omnimaint.progress import track

if TYPE_CHECKING:
    from omnimaint.inference.predictor import Predictor

logger = logging.getLogger(__name__)

STATE_LEAD_FRACTION = 6
"""The state of a case is taken the bundle's shortest horizon / this before its failure. Chosen on the validation
machines of the simulated plant (24 h horizon): leads of 1, 2 and 4 h found a case of the right fault for 83 %
of failures, 6 h for 74 %, 12 h for 65 %, 24 h for 48 % (docs/diagnosis.md)."""


@dataclass(frozen=True)
class CaseBaseConfig:
    """How work orders become cases.

    Attributes:
        link_within: A corrective order closes a failure recorded at most this long before it opened.
        recurrence: A fix held when no failure of the same asset and component followed within this.
        state_lead: The fused state is that of the window ending this long before the failure (``None``: the
            bundle's shortest horizon / :data:`STATE_LEAD_FRACTION`).
        action_similarity: Actions whose text embeddings have at least this cosine similarity are one action ...
        action_overlap: ... if their words (Chinese: character bigrams) also overlap by at least this (Jaccard): a
            sentence encoder that does not know the plant's language finds every two texts alike.
        batch_size: Windows per forward pass when computing states.
    """

    link_within: timedelta = timedelta(days=1)
    recurrence: timedelta = timedelta(days=30)
    state_lead: timedelta | None = None
    action_similarity: float = 0.8
    action_overlap: float = 0.3
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.action_similarity <= 1.0:
            raise ConfigError(f"action_similarity must be in (0, 1], got {self.action_similarity}")
        if not 0.0 <= self.action_overlap <= 1.0:
            raise ConfigError(f"action_overlap must be in [0, 1], got {self.action_overlap}")
        if self.link_within < timedelta(0) or self.recurrence <= timedelta(0):
            raise ConfigError("link_within must be >= 0 and recurrence > 0")


def corrective_orders(dataset: Dataset, assets: Collection[str] | None = None) -> pd.DataFrame:
    """The dataset's corrective work orders with a problem or an action text (of ``assets`` only, when given), in
    time order.

    Raises:
        ConfigError: if the dataset has no work orders, or none of them is a corrective one with text.
    """
    if not dataset.has("maintenance"):
        raise ConfigError(f"{dataset.path}: no maintenance table, so no work orders to build cases from")
    orders = dataset.table("maintenance")
    keep = orders["kind"] == "corrective"
    if assets is not None:
        keep &= orders["asset_id"].isin(list(assets))
    orders = orders[keep].copy()
    for column in ("problem", "cause", "action", "component"):
        if column not in orders:
            orders[column] = None
    texts = orders["problem"].fillna("").str.strip() + orders["action"].fillna("").str.strip()
    orders = orders[texts != ""]
    if orders.empty:
        raise ConfigError(f"{dataset.path}: no corrective work order has a problem or action text")
    return orders.sort_values(["ts_open", "work_order_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class FailureRecords:
    """The ``failures`` table as arrays: asset, component, time (µs) and fault type of each."""

    asset: np.ndarray
    component: np.ndarray
    ts_us: np.ndarray
    fault: np.ndarray

    @classmethod
    def of(cls, dataset: Dataset) -> FailureRecords | None:
        if not dataset.has("failures"):
            return None
        table = dataset.table("failures")
        return cls(
            asset=table["asset_id"].astype(str).to_numpy(),
            component=table["component"].astype(str).to_numpy(),
            ts_us=timestamps_us(table["ts"]),
            fault=table["fault_type"].astype(str).to_numpy(),
        )

    def of_part(self, asset: str, component: str | None) -> np.ndarray:
        """Bool mask of the failures of ``asset`` (and ``component``, when it names one)."""
        mask = self.asset == asset
        return mask if component is None else mask & (self.component == component)


@dataclass(frozen=True)
class _Orders:
    """Work orders as plain columns: asset, component, opening time and the time they were done (µs)."""

    asset: list[str]
    component: list[str | None]
    opened_us: np.ndarray
    done_us: np.ndarray

    @classmethod
    def of(cls, orders: pd.DataFrame) -> _Orders:
        opened = timestamps_us(orders["ts_open"])
        closed = pd.to_datetime(orders["ts_close"], utc=True)
        done = np.where(closed.notna().to_numpy(), timestamps_us(closed.fillna(orders["ts_open"])), opened)
        return cls(orders["asset_id"].astype(str).tolist(), [_text(c) for c in orders["component"]], opened, done)


def _text(value: object) -> str | None:
    """A text cell as a string, ``None`` when missing or blank."""
    return value if isinstance(value, str) and value.strip() else None


def link_failures(orders: pd.DataFrame, failures: FailureRecords | None, within: timedelta) -> pd.DataFrame:
    """Per order, the failure it closed: columns ``failure_at`` (NaT when none) and ``fault_type`` (None)."""
    table = _Orders.of(orders)
    at_us = np.full(len(table.asset), np.iinfo(np.int64).min, dtype=np.int64)
    fault: list[str | None] = [None] * len(table.asset)
    for i, (asset, component) in enumerate(zip(table.asset, table.component, strict=True)):
        if failures is None:
            break
        near = failures.of_part(asset, component)
        near &= (failures.ts_us >= table.opened_us[i] - micros(within)) & (failures.ts_us <= table.done_us[i])
        if near.any():
            rows = np.flatnonzero(near)
            best = rows[int(np.argmin(np.abs(failures.ts_us[rows] - table.opened_us[i])))]
            at_us[i], fault[i] = failures.ts_us[best], str(failures.fault[best])
    failure_at = pd.to_datetime(np.where(at_us == np.iinfo(np.int64).min, np.nan, at_us), unit="us", utc=True)
    return pd.DataFrame({"failure_at": failure_at, "fault_type": fault})


def data_end(dataset: Dataset) -> int | None:
    """The last timestamp (µs) of the dataset's time-stamped tables (``None`` for a dataset without rows)."""
    ends = []
    for name, spec in TABLES.items():
        if spec.time_column is None or not dataset.has(name):
            continue
        column = dataset.arrow(name, columns=[spec.time_column]).column(spec.time_column)
        if len(column):
            ends.append(int(micros_of(column).max()))
    return max(ends) if ends else None


def outcomes(
    orders: pd.DataFrame, failures: FailureRecords | None, end_us: int | None, recurrence: timedelta
) -> list[Outcome]:
    """Per order, whether its fix held (see :data:`~omnimaint.diagnosis.cases.Outcome`)."""
    table = _Orders.of(orders)
    if failures is None or end_us is None:
        return ["unknown"] * len(table.asset)
    out: list[Outcome] = []
    for i, (asset, component) in enumerate(zip(table.asset, table.component, strict=True)):
        done, until = int(table.done_us[i]), int(table.done_us[i]) + micros(recurrence)
        later = failures.of_part(asset, component) & (failures.ts_us > done) & (failures.ts_us <= until)
        out.append("failed_again" if later.any() else "held" if end_us >= until else "unknown")
    return out


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two token sets (0 when both are empty)."""
    return len(a & b) / len(a | b) if a or b else 0.0


def group_actions(
    actions: list[str], encoder: TextEncoder, similarity: float, overlap: float
) -> tuple[np.ndarray, list[str]]:
    """Action group of each action and each group's text (see the module docstring).

    Returns:
        ``(n,)`` int group per action, and the groups' texts (most frequent first).
    """
    keys = [action_key(a) for a in actions]
    counts = Counter(keys)
    wording: dict[str, str] = {}
    for key, text in zip(keys, actions, strict=True):
        wording.setdefault(key, text)
    first = {key: i for i, key in reversed(list(enumerate(keys)))}
    distinct = sorted(counts, key=lambda key: (-counts[key], first[key]))
    vectors = encoder.embed([wording[key] for key in distinct]) if distinct else np.zeros((0, 1), np.float32)
    tokens = [frozenset(tokenize(key)) for key in distinct]
    leaders: list[int] = []  # indices into distinct
    group_of_key: dict[str, int] = {}
    for i, key in enumerate(distinct):
        alike = [
            (float(vectors[leader] @ vectors[i]), g)
            for g, leader in enumerate(leaders)
            if _overlap(tokens[leader], tokens[i]) >= overlap
        ]
        best = max(alike, default=(-1.0, -1))
        if best[0] >= similarity:
            group_of_key[key] = best[1]
            continue
        group_of_key[key] = len(leaders)
        leaders.append(i)
    groups = np.asarray([group_of_key[key] for key in keys], dtype=np.int64)
    return groups, [wording[distinct[i]] for i in leaders]


def fused_states(
    predictor: Predictor, dataset: Dataset, assets: pd.Series, times: pd.Series, batch_size: int, progress: bool
) -> np.ndarray:
    """``(n, D)`` fused states of the windows of ``assets`` ending at ``times``."""
    windows = predictor.windows(dataset, anchors=pd.DataFrame({"asset_id": assets.to_numpy(), "ts": times.to_numpy()}))
    starts = track(range(0, len(windows), batch_size), "fused states of past failures", enabled=progress)
    parts = [predictor.fused_state(windows.batch(np.arange(s, min(s + batch_size, len(windows))))) for s in starts]
    return np.concatenate(parts).astype(np.float32)


def build_case_base(
    dataset: Dataset,
    encoder: TextEncoder,
    spec: TextEncoderSpec,
    *,
    predictor: Predictor | None = None,
    config: CaseBaseConfig | None = None,
    assets: Collection[str] | None = None,
    progress: bool = False,
) -> CaseBase:
    """Build the case base of ``dataset``'s corrective work orders.

    Args:
        dataset: The plant's history (``maintenance``; ``failures`` and ``assets`` when present).
        encoder: Text encoder (the bundle's; see :func:`~omnimaint.diagnosis.retrieval.bundle_text_encoder_spec`).
        spec: What ``encoder`` is, stored with the cases.
        predictor: The bundle's predictor (PyTorch backend), for the fused states; ``None``: text only.
        config: Linking, outcome and grouping settings.
        assets: Only these assets' work orders become cases (all when ``None``).
        progress: Show progress bars.

    Raises:
        ConfigError: if there is no corrective work order with text.
        IncompatibleDataError: if ``predictor`` is given and the dataset does not fit its bundle.
    """
    config = config or CaseBaseConfig()
    orders = corrective_orders(dataset, assets)
    failures = FailureRecords.of(dataset)
    links = link_failures(orders, failures, config.link_within)
    held = outcomes(orders, failures, data_end(dataset), config.recurrence)
    types = dataset.table("assets").set_index("asset_id")["asset_type"].to_dict() if dataset.has("assets") else {}
    actions = orders["action"].fillna("").astype(str).tolist()
    groups, action_texts = group_actions(actions, encoder, config.action_similarity, config.action_overlap)

    failure_at = [None if pd.isna(t) else t.to_pydatetime() for t in links["failure_at"]]
    cases = tuple(
        Case(
            case_id=str(order["work_order_id"]),
            asset_id=str(order["asset_id"]),
            asset_type=types.get(order["asset_id"]),
            component=_text(order["component"]),
            fault_type=links["fault_type"].iloc[i],
            problem=_text(order["problem"]) or "",
            cause=_text(order["cause"]),
            action=actions[i],
            opened=order["ts_open"].to_pydatetime(),
            closed=None if pd.isna(order["ts_close"]) else order["ts_close"].to_pydatetime(),
            failure_at=failure_at[i],
            action_group=int(groups[i]),
            outcome=held[i],
        )
        for i, order in enumerate(orders.to_dict("records"))
    )
    embeddings = encoder.embed([c.document for c in cases]).astype(np.float32)
    present = links["failure_at"].notna().to_numpy() if predictor is not None else np.zeros(len(cases), dtype=bool)
    lead_hours: float | None = None
    states = np.zeros((len(cases), 0), dtype=np.float32)
    if present.any():
        assert predictor is not None
        lead = config.state_lead or min(predictor.bundle.window.horizons) / STATE_LEAD_FRACTION
        lead_hours = lead / timedelta(hours=1)
        linked = orders[present]
        at = links["failure_at"][present] - pd.Timedelta(microseconds=micros(lead))
        found = fused_states(predictor, dataset, linked["asset_id"], at, config.batch_size, progress)
        states = np.zeros((len(cases), found.shape[1]), dtype=np.float32)
        states[present] = found
    logger.info(
        "case base: %d cases, %d action groups, %d with a fused state", len(cases), len(action_texts), present.sum()
    )
    return CaseBase(
        cases=cases,
        actions=tuple(action_texts),
        text_embeddings=embeddings,
        states=states,
        state_present=present,
        text_encoder=spec,
        state_lead_hours=lead_hours,
        encoder=encoder,
    )
