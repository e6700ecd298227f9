"""The case base inside a model bundle: ``cases.json`` and ``cases.safetensors``, checksummed like every file.

``cases.json`` holds the format and version, the text encoder the cases were embedded with, the lead of the
fused states, the action texts and every case (validated strictly on loading: no unknown fields, finite
numbers only). ``cases.safetensors`` holds ``text_embeddings`` (N, E), and, when some case has one,
``states`` (N, D) and ``state_present`` (N,) as uint8. Nothing is unpickled. Both files are listed in the
bundle's ``bundle.json``: a changed byte is refused on loading (:mod:`omnimaint.inference.bundle_files`), and
a signed bundle's signature covers them.

:func:`add_case_base` writes a bundle through :meth:`~omnimaint.inference.bundle.Bundle.save` (staged, then
renamed into place; only a bundle is ever replaced), carrying over every other file the verified bundle
lists (ONNX exports). :func:`build_cases` and :func:`search_cases` are what ``omnimaint cases build`` and
``omnimaint cases search`` call.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from omnimaint.diagnosis.case_builder import CaseBaseConfig, build_case_base
from omnimaint.diagnosis.cases import Case, CaseBase, CaseMatch, Suggestion, suggest
from omnimaint.diagnosis.retrieval import TextEncoderSpec, bundle_text_encoder_spec, load_text_encoder
from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.inference.bundle import CORE_FILES, Bundle
from omnimaint.inference.bundle_files import MANIFEST_FILE, SIGNATURE_FILE, BundleError, parse_json

logger = logging.getLogger(__name__)

CASES_FILE = "cases.json"
CASE_VECTORS_FILE = "cases.safetensors"
CASES_FORMAT = "omnimaint-cases"


class _EncoderEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["pretrained", "domain"]
    model: str | None = None


class _CasesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["omnimaint-cases"]
    version: Literal[1]  # a new layout gets a new version; this omnimaint refuses the others
    text_encoder: _EncoderEntry
    state_lead_hours: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    actions: tuple[str, ...]
    cases: tuple[Case, ...]


def case_base_files(case_base: CaseBase, folder: Path) -> dict[str, Path]:
    """Write ``cases.json`` and ``cases.safetensors`` into ``folder``; returns them by name."""
    content = _CasesFile(
        format="omnimaint-cases",
        version=1,
        text_encoder=_EncoderEntry(name=case_base.text_encoder.name, model=case_base.text_encoder.model),
        state_lead_hours=case_base.state_lead_hours,
        actions=case_base.actions,
        cases=case_base.cases,
    )
    (folder / CASES_FILE).write_text(content.model_dump_json(indent=1) + "\n", encoding="utf-8")
    arrays = {"text_embeddings": np.ascontiguousarray(case_base.text_embeddings, dtype=np.float32)}
    if case_base.n_states:
        arrays["states"] = np.ascontiguousarray(case_base.states, dtype=np.float32)
        arrays["state_present"] = case_base.state_present.astype(np.uint8)
    (folder / CASE_VECTORS_FILE).write_bytes(save_arrays(arrays, metadata={"format": CASES_FORMAT}))
    return {CASES_FILE: folder / CASES_FILE, CASE_VECTORS_FILE: folder / CASE_VECTORS_FILE}


def add_case_base(bundle_path: Path, case_base: CaseBase, *, out: Path | None = None, overwrite: bool = False) -> Path:
    """Write the bundle at ``bundle_path`` with ``case_base`` in it, at ``out`` (default: in place).

    The bundle is verified first and rewritten from the verified bytes (so no file changed after it was made is
    vouched for by the new checksums); a previous case base is replaced. A signature no longer applies and is
    dropped, with a warning.

    Args:
        bundle_path: The bundle.
        case_base: The cases.
        out: Another folder for the new bundle; ``None`` replaces the bundle in place.
        overwrite: With ``out``, replace a bundle already there.

    Raises:
        BundleError: if the bundle fails verification.
        OutputError: if ``out`` holds anything but nothing, an empty folder or (with ``overwrite``) a bundle.
    """
    bundle = Bundle.load(bundle_path)
    target = Path(out) if out is not None else Path(bundle_path)
    carried = sorted(set(bundle.files) - {*CORE_FILES, CASES_FILE, CASE_VECTORS_FILE})
    with tempfile.TemporaryDirectory() as tmp:
        extras = case_base_files(case_base, Path(tmp))
        for name in carried:
            (Path(tmp) / name).write_bytes(bundle.read_file(name))
            extras[name] = Path(tmp) / name
        bundle.save(target, overwrite=overwrite or out is None, extra_files=extras)
    if out is None and os.path.lexists(target / SIGNATURE_FILE):
        logger.warning(
            "%s: adding the case base changed bundle.json, so its signature no longer applies and was removed; "
            "sign the bundle again (omnimaint sign)",
            target,
        )
    return target


def load_case_base(bundle: Bundle, *, load_encoder: bool = True) -> CaseBase:
    """The case base stored in a loaded bundle, read through the bundle's checksums.

    Args:
        bundle: The bundle (from :meth:`Bundle.load`).
        load_encoder: Also load its text encoder (needed to search by text).

    Raises:
        BundleError: if the bundle has no case base (saying how to build one), or its files are changed,
            malformed or disagree with each other.
    """
    if CASES_FILE not in bundle.files:
        raise BundleError(
            f"{bundle.path}: the bundle has no case base ({CASES_FILE} is not listed in {MANIFEST_FILE}); "
            f"build one with `omnimaint cases build {bundle.path} DATASET`"
        )
    where = (bundle.path or Path()) / CASES_FILE
    try:
        content = _CasesFile.model_validate(parse_json(bundle.read_file(CASES_FILE), where))
    except ValidationError as exc:
        raise BundleError(f"{where}: invalid {describe_validation_error(exc)}") from exc
    arrays = _vectors(bundle)
    n = len(content.cases)
    embeddings = arrays.get("text_embeddings")
    if embeddings is None or embeddings.ndim != 2 or embeddings.shape[0] != n:
        shape = None if embeddings is None else embeddings.shape
        raise BundleError(f"{where.with_name(CASE_VECTORS_FILE)}: text_embeddings of shape {shape} for {n} cases")
    states = arrays.get("states", np.zeros((n, 0), dtype=np.float32))
    present = arrays.get("state_present", np.zeros(n, dtype=np.uint8)).astype(bool)
    if states.ndim != 2 or states.shape[0] != n or present.shape != (n,):
        raise BundleError(f"{where.with_name(CASE_VECTORS_FILE)}: states do not have one row per case ({n})")
    spec = TextEncoderSpec(content.text_encoder.name, content.text_encoder.model)
    try:
        case_base = CaseBase(
            cases=content.cases,
            actions=content.actions,
            text_embeddings=embeddings.astype(np.float32),
            states=states.astype(np.float32),
            state_present=present,
            text_encoder=spec,
            state_lead_hours=content.state_lead_hours,
        )
    except ConfigError as exc:
        raise BundleError(f"{where}: {exc}") from exc
    if load_encoder:
        case_base.encoder = load_text_encoder(spec, bundle)
    return case_base


def _vectors(bundle: Bundle) -> dict[str, np.ndarray]:
    where = (bundle.path or Path()) / CASE_VECTORS_FILE
    try:
        arrays = load_arrays(bundle.read_file(CASE_VECTORS_FILE))
    except SafetensorError as exc:
        raise BundleError(f"{where}: not a readable safetensors file ({exc})") from exc
    unknown = sorted(set(arrays) - {"text_embeddings", "states", "state_present"})
    if unknown:
        raise BundleError(f"{where}: unknown array {unknown[0]!r}")
    finite = all(np.isfinite(a).all() for k, a in arrays.items() if k != "state_present")
    if not finite:
        raise BundleError(f"{where}: holds NaN or infinite values")
    return arrays


@dataclass(frozen=True)
class CaseSearch:
    """What a text search of a bundle's case base found.

    Attributes:
        query: The text searched for.
        matches: The most similar cases, best first.
        suggestions: The actions that resolved the ``voters`` most similar cases, best first.
    """

    query: str
    matches: tuple[CaseMatch, ...]
    suggestions: tuple[Suggestion, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready content: the query, each match (rank, score, case) and each suggestion."""
        return {
            "query": self.query,
            "matches": [
                {"rank": m.rank, "score": m.score, "case": m.case.model_dump(mode="json")} for m in self.matches
            ],
            "suggestions": [
                {
                    "action": s.action,
                    "score": s.score,
                    "case_ids": list(s.case_ids),
                    "held": s.held,
                    "failed_again": s.failed_again,
                    "unknown": s.unknown,
                    "success_rate": s.success_rate,
                }
                for s in self.suggestions
            ],
        }


def search_cases(
    bundle_path: Path, text: str, k: int = 5, *, voters: int = 20, public_key: Path | None = None
) -> CaseSearch:
    """Search the case base of the bundle at ``bundle_path`` for ``text`` (any language).

    Args:
        bundle_path: The bundle.
        text: A problem description.
        k: Cases to return.
        voters: Similar cases whose actions are ranked (at least ``k``).
        public_key: Require the bundle's signature by this Ed25519 public key.

    Raises:
        BundleError: if the bundle fails verification or has no case base.
        ConfigError: if ``text`` is blank or ``k`` < 1.
    """
    case_base = load_case_base(Bundle.load(bundle_path, public_key=public_key))
    nearest = case_base.search(text, max(k, voters))
    return CaseSearch(text, tuple(nearest[:k]), tuple(suggest(nearest, case_base.actions)))


def build_cases(
    bundle_path: Path,
    dataset_path: Path,
    *,
    out: Path | None = None,
    overwrite: bool = False,
    states: bool = True,
    config: CaseBaseConfig | None = None,
    progress: bool = False,
) -> tuple[Path, CaseBase]:
    """Build the case base of a dataset with a bundle's text encoder (and, with ``states``, its model's fused
    states) and write the bundle with it (see :func:`add_case_base`).

    Returns:
        The bundle written and its case base.

    Raises:
        BundleError: if the bundle fails verification.
        ConfigError: if the dataset has no corrective work order with text.
        IncompatibleDataError: with ``states``, if the dataset does not fit the bundle.
    """
    from omnimaint.data.dataset import Dataset
    from omnimaint.inference.predictor import Predictor

    bundle = Bundle.load(bundle_path)
    spec = bundle_text_encoder_spec(bundle)
    predictor = Predictor(bundle) if states and bundle.kind == "model" else None
    encoder = load_text_encoder(spec, bundle)
    case_base = build_case_base(
        Dataset(dataset_path), encoder, spec, predictor=predictor, config=config, progress=progress
    )
    return add_case_base(bundle_path, case_base, out=out, overwrite=overwrite), case_base
