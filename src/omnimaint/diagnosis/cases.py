"""The case base: a plant's past corrective work orders, each with what fixed it, found again by text or by state.

Owns :class:`Case` (one past corrective work order: asset, asset type, component, the fault when the failure
it closed is known, problem/cause/action text, times, and whether the fix held), :class:`CaseBase` (the
cases with their text embeddings and, where known, the model's fused state before the failure each closed),
its two look-ups (:meth:`CaseBase.search` by free text in any language, hybrid BM25 + embedding;
:meth:`CaseBase.similar_cases` by a live warning's fused state, cosine nearest neighbours) and
:func:`suggest` (the actions that resolved the most similar cases, with how often each held). Building
from a dataset is :mod:`.case_builder`; storage in the bundle is :mod:`.case_store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from omnimaint.diagnosis.retrieval import HybridRetriever, TextEncoder, TextEncoderSpec
from omnimaint.errors import ConfigError

Outcome = Literal["held", "failed_again", "unknown"]
"""Whether a fix held: no failure of the same asset and component within the recurrence window after it
closed (``held``), one within it (``failed_again``), or the data end too early to say (``unknown``)."""

FAILED_AGAIN_WEIGHT = 0.5
"""A similar case whose fix did not hold votes for its action with this weight (1 for the others)."""

VOTE_RANK_CONSTANT = 0.0
"""Votes of similar cases are ``1 / (VOTE_RANK_CONSTANT + 1 + position)``: chosen on the validation machines of
the simulated plant (docs/diagnosis.md)."""


class Case(BaseModel):
    """One past corrective work order and what became of it.

    Attributes:
        case_id: Its work-order id.
        asset_id: The machine.
        asset_type: The machine's type (``None`` when the dataset has no assets table).
        component: The component worked on (``None`` when the order names none).
        fault_type: The fault of the failure it closed (``None`` when no recorded failure matches it).
        problem: Problem text.
        cause: Cause text.
        action: What was done.
        opened: When it was opened (UTC).
        closed: When it was closed (``None``: open at the end of the data).
        failure_at: When the failure it closed happened (``None``: none recorded).
        action_group: Index of its action among :attr:`CaseBase.actions` (orders that did the same thing in
            other words share one).
        outcome: Whether the fix held (see :data:`Outcome`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    asset_id: str
    asset_type: str | None = None
    component: str | None = None
    fault_type: str | None = None
    problem: str = ""
    cause: str | None = None
    action: str = ""
    opened: datetime
    closed: datetime | None = None
    failure_at: datetime | None = None
    action_group: int = 0
    outcome: Outcome = "unknown"

    @property
    def document(self) -> str:
        """The text a case is found by: its problem and cause."""
        return self.problem if not self.cause else f"{self.problem}. {self.cause}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class CaseMatch:
    """A case found for a query.

    Attributes:
        case: The case.
        score: Relevance: the fused reciprocal-rank score for a text query, the cosine similarity of fused
            states for a state query.
        rank: 0 for the best match.
    """

    case: Case
    score: float
    rank: int


@dataclass(frozen=True)
class Suggestion:
    """An action that resolved similar cases.

    Attributes:
        action: What was done, in the words of its most frequent case.
        score: Votes of the similar cases that did it (nearer cases weigh more; a fix that did not hold weighs
            :data:`FAILED_AGAIN_WEIGHT`).
        case_ids: The similar cases that did it, nearest first.
        held: How many of them held.
        failed_again: How many were followed by a failure of the same component within the recurrence window.
        unknown: How many are too recent to say.
    """

    action: str
    score: float
    case_ids: tuple[str, ...]
    held: int
    failed_again: int
    unknown: int

    @property
    def success_rate(self) -> float | None:
        """Fraction of the cases with a known outcome that held (``None`` when none is known)."""
        known = self.held + self.failed_again
        return self.held / known if known else None


def suggest(
    matches: Sequence[CaseMatch], actions: Sequence[str], *, rank_constant: float = VOTE_RANK_CONSTANT
) -> list[Suggestion]:
    """Rank the actions that resolved ``matches``, best first.

    Each match votes ``1 / (rank_constant + 1 + position)`` for its action group (rank-weighted nearest
    neighbours: the nearest case counts most, several farther ones that agree can outvote it), times
    :data:`FAILED_AGAIN_WEIGHT` when its fix did not hold.

    Args:
        matches: Similar cases, best first (from :meth:`CaseBase.search` or :meth:`CaseBase.similar_cases`).
        actions: The case base's action texts, by group.
        rank_constant: How flat the votes are: 0 gives 1, 1/2, 1/3 ...; a large one gives nearly one vote each.
    """
    votes: dict[int, float] = {}
    first: dict[int, int] = {}
    members: dict[int, list[Case]] = {}
    for position, match in enumerate(matches):
        group = match.case.action_group
        weight = (FAILED_AGAIN_WEIGHT if match.case.outcome == "failed_again" else 1.0) / (rank_constant + 1 + position)
        votes[group] = votes.get(group, 0.0) + weight
        first.setdefault(group, position)
        members.setdefault(group, []).append(match.case)
    return [
        Suggestion(
            action=actions[group],
            score=votes[group],
            case_ids=tuple(c.case_id for c in members[group]),
            held=sum(c.outcome == "held" for c in members[group]),
            failed_again=sum(c.outcome == "failed_again" for c in members[group]),
            unknown=sum(c.outcome == "unknown" for c in members[group]),
        )
        for group in sorted(votes, key=lambda g: (-votes[g], first[g]))
    ]


@dataclass
class CaseBase:
    """Past corrective work orders, their text embeddings and (where known) fused states, ready to search.

    Attributes:
        cases: The cases, in time order.
        actions: Per action group, its text (the words of its most frequent case).
        text_embeddings: ``(N, E)`` float32, L2-normalised, by :attr:`text_encoder`.
        states: ``(N, D)`` float32 fused states of the window before each case's failure (zeros where absent).
        state_present: ``(N,)`` bool, whether a case has a state.
        text_encoder: Which encoder embedded the texts (queries must use the same).
        state_lead_hours: How long before the failure the state's window ends (``None``: no states).
        encoder: The text encoder itself, loaded when first needed (see :mod:`.case_store`).
    """

    cases: tuple[Case, ...]
    actions: tuple[str, ...]
    text_embeddings: np.ndarray
    states: np.ndarray
    state_present: np.ndarray
    text_encoder: TextEncoderSpec
    state_lead_hours: float | None = None
    encoder: TextEncoder | None = None
    _retriever: HybridRetriever | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.cases)
        if self.text_embeddings.shape[0] != n or self.states.shape[0] != n or self.state_present.shape != (n,):
            raise ConfigError(
                f"a case base of {n} cases needs one text embedding, state and presence flag each; got "
                f"{self.text_embeddings.shape[0]}, {self.states.shape[0]} and {self.state_present.shape[0]}"
            )
        bad = [c.case_id for c in self.cases if not 0 <= c.action_group < len(self.actions)]
        if bad:
            raise ConfigError(f"case {bad[0]} names an action group outside the {len(self.actions)} of the case base")

    def __len__(self) -> int:
        return len(self.cases)

    @property
    def n_states(self) -> int:
        """How many cases carry a fused state."""
        return int(self.state_present.sum())

    def _text_retriever(self) -> HybridRetriever:
        if self._retriever is None:
            if self.encoder is None:
                raise ConfigError("the case base has no text encoder loaded; load it with its bundle")
            documents = [c.document for c in self.cases]
            self._retriever = HybridRetriever(encoder=self.encoder).fit(documents, embeddings=self.text_embeddings)
        return self._retriever

    def search(self, text: str, k: int = 5) -> list[CaseMatch]:
        """The ``k`` cases most similar to ``text`` (a problem description in any language), best first.

        Raises:
            ConfigError: if ``text`` is blank, ``k`` < 1 or the case base is empty.
        """
        if not text.strip():
            raise ConfigError("the search text is empty; describe the problem")
        self._check(k)
        scores = self._text_retriever().fused_scores([text])[0]  # (N,)
        return self._top(scores, k, np.ones(len(self), dtype=bool))

    def similar_cases(
        self, state: np.ndarray, k: int = 5, *, asset_type: str | None = None, before: datetime | None = None
    ) -> list[CaseMatch]:
        """The ``k`` cases whose fused state before their failure is nearest (cosine) to ``state``, best first.

        Args:
            state: ``(D,)`` fused state of a live window (:meth:`~omnimaint.inference.predictor.Predictor.fused_state`).
            k: How many.
            asset_type: Only cases of machines of this type (the warning's own), when some are; ``None``: all.
            before: Only cases opened before this time (naive: UTC), so that a diagnosis of a past time does not
                see the cases that followed it; ``None``: all.

        Raises:
            ConfigError: if the case base has no states, or ``state`` has the wrong width.
        """
        self._check(k)
        if self.n_states == 0:
            raise ConfigError(
                "the case base holds no fused states (built without a model, or no work order closed a recorded "
                "failure); search it by text"
            )
        vector = np.asarray(state, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.states.shape[1]:
            raise ConfigError(f"a state of width {vector.shape[0]}; the case base's states have {self.states.shape[1]}")
        norms = np.linalg.norm(self.states, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
        cosine = self.states @ vector / np.maximum(norms, 1e-12)  # (N,)
        eligible = self.state_present
        if before is not None:
            eligible = eligible & np.array([_utc(c.opened) < _utc(before) for c in self.cases], dtype=bool)
        if asset_type is not None:
            same = eligible & np.array([c.asset_type == asset_type for c in self.cases], dtype=bool)
            eligible = same if same.any() else eligible
        return self._top(cosine, k, eligible)

    def _check(self, k: int) -> None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if not self.cases:
            raise ConfigError("the case base is empty")

    def _top(self, scores: np.ndarray, k: int, eligible: np.ndarray) -> list[CaseMatch]:
        candidates = np.flatnonzero(eligible)
        order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        return [CaseMatch(self.cases[i], float(scores[i]), rank) for rank, i in enumerate(order)]
