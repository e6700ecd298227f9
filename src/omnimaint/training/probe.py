"""Linear probe of the encoders: how much failure-within-horizon information their pooled outputs hold.

Fine-tuning with few labels is noisy (the same start differs by about 0.05 AUROC from seed to seed), so
it cannot tell a better pretraining objective from luck on a handful of runs. A linear probe can: the
encoders are frozen, each modality's tokens are mean-pooled, and a logistic regression on the training
windows predicts failure within the longest horizon; its AUROC on the validation windows says how
readable that information is. It is fitted once on every training label and once per seeded draw of
``fraction`` of the (asset, day) blocks — the labelled subsets the label-efficiency experiment uses — so
the low-label figure is what matters when comparing objectives. It needs no test windows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from omnimaint.atomic import PROBE, staged_folder
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.errors import ConfigError
from omnimaint.models.blocks import masked_mean
from omnimaint.models.omni import OmniModel
from omnimaint.models.preprocessing import Preprocessor
from omnimaint.training.config import TrainConfig
from omnimaint.training.data import labelled_mask
from omnimaint.training.run import prepare

PROBE_FILE = "probe.json"
REGULARISATION = 0.01
"""Inverse L2 strength of the probe (scikit-learn's ``C``) on standardised features: strong, since a
10 % draw holds a few dozen positive windows against hundreds of features."""


@dataclass(frozen=True)
class ProbeResult:
    """Validation AUROC of the linear probe.

    Attributes:
        all_labels: Fitted on every training label, all modalities.
        fraction: Share of (asset, day) blocks of the low-label draws.
        few_labels: Mean AUROC over the draws that hold positives of both classes.
        few_labels_sd: Their standard deviation.
        draws: How many draws were scored.
        modalities: Per modality, fitted on every training label.
    """

    all_labels: float
    fraction: float
    few_labels: float
    few_labels_sd: float
    draws: int
    modalities: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _features(
    model: OmniModel, preprocessor: Preprocessor, windows: WindowedDataset
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled encoder outputs (N, M, D), failure-within-the-longest-horizon labels (N,) and known (N,)."""
    pooled, labels, known = [], [], []
    model.eval()
    with torch.inference_mode():
        for batch in windows.iter_batches(128):
            tokens, valid = model.encode(preprocessor(batch))
            pooled.append(torch.stack([masked_mean(t, v) for t, v in zip(tokens, valid, strict=True)], dim=1))
            labels.append(batch.labels.failure_within[:, -1])
            known.append(batch.labels.failure_within_known[:, -1] > 0)
    return torch.cat(pooled).numpy(), np.concatenate(labels), np.concatenate(known)


def _auroc(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> float:
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=REGULARISATION, max_iter=2000))
    probe.fit(train_x, train_y)
    return float(roc_auc_score(val_y, probe.predict_proba(val_x)[:, 1]))


def linear_probe(config: TrainConfig, fraction: float = 0.1, draws: int = 10) -> ProbeResult:
    """Probe the encoders of ``config.init_from`` (a pretraining run), or of a fresh model seeded with
    ``config.seed`` when it is unset (the from-scratch reference).

    Raises:
        ConfigError: when the split has no validation windows, or either split lacks a class.
    """
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    if prepared.val is None:
        raise ConfigError("the linear probe scores on the validation split, which has no windows")
    train_x, train_y, train_known = _features(prepared.model, prepared.preprocessor, prepared.train)
    val_x, val_y, val_known = _features(prepared.model, prepared.preprocessor, prepared.val)
    val_x, val_y = val_x[val_known], val_y[val_known]
    for name, y in (("training", train_y[train_known]), ("validation", val_y)):
        if len(np.unique(y)) < 2:
            raise ConfigError(f"the {name} windows hold only one failure-within-horizon class; nothing to probe")
    flat = train_x.reshape(len(train_x), -1)
    val_flat = val_x.reshape(len(val_x), -1)
    modalities = {
        name: _auroc(train_x[train_known, i], train_y[train_known], val_x[:, i], val_y)
        for i, name in enumerate(prepared.model.config.modalities)
    }
    scores = []
    for seed in range(draws):
        keep = labelled_mask(prepared.train, fraction, seed) & train_known
        if len(np.unique(train_y[keep])) == 2:
            scores.append(_auroc(flat[keep], train_y[keep], val_flat, val_y))
    return ProbeResult(
        all_labels=_auroc(flat[train_known], train_y[train_known], val_flat, val_y),
        fraction=fraction,
        few_labels=float(np.mean(scores)) if scores else float("nan"),
        few_labels_sd=float(np.std(scores)) if scores else float("nan"),
        draws=len(scores),
        modalities=modalities,
    )


def write_probe(result: ProbeResult, out: Path, *, overwrite: bool = False) -> Path:
    """Write ``out/probe.json`` into a linear-probe folder that appears whole.

    Args:
        result: The probe's figures.
        out: The folder; ``overwrite`` replaces an earlier probe folder there, anything else is refused.

    Returns:
        The file written.

    Raises:
        OutputError: if ``out`` holds something else (see :func:`omnimaint.atomic.check_target`).
    """
    with staged_folder(out, PROBE, overwrite=overwrite) as folder:
        (folder / PROBE_FILE).write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return out / PROBE_FILE
