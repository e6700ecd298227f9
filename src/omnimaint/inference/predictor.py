"""The Predictor: one way to score windows with a bundle, on PyTorch or ONNX Runtime.

Evaluation, the live service and edge deployments all call :meth:`Predictor.predict`; the windows are
cut with the bundle's own WindowSpec and vocabularies and preprocessed with its fitted preprocessor,
so nothing is re-implemented on the serving side.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from omnimaint.data.dataset import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split
from omnimaint.data.windows import HEALTH_STATES, MODALITIES, Batch, WindowSpec
from omnimaint.errors import ConfigError
from omnimaint.inference.adaptation import adapt_bundle, save_adapted
from omnimaint.inference.bundle import ONNX_FILE, ONNX_INT8_FILE, Bundle, BundleError
from omnimaint.inference.compatibility import ensure_fit
from omnimaint.inference.export import export_bundle
from omnimaint.inference.frame_anomaly import load_frame_anomaly
from omnimaint.models.frame_anomaly import FrameAnomalyScores
from omnimaint.models.frame_views import N_VIEWS, dihedral_view
from omnimaint.models.inputs import HEAD_OUTPUTS, ModelInputs
from omnimaint.models.preprocessing import Preprocessor, mask_modalities
from omnimaint.models.threads import torch_threads

Backend = Literal["torch", "onnx", "onnx-int8"]
"""``torch``; ``onnx`` (ONNX Runtime on ``model.onnx``); ``onnx-int8`` (on the quantised ``model.int8.onnx``)."""

FrameViews = Literal["one", "dihedral"]
"""Test-time frame views: each window as it is, or the mean over the eight flips and transposes of its frames."""


@dataclass(frozen=True)
class HealthOutput:
    """Per-window health assessment.

    Attributes:
        asset_ids: (B,) assets.
        anchors: (B,) window end times (datetime64[us], UTC).
        failure_probability: (B, H) P(any component fails within horizon h).
        component_failure_probability: (B, H, P) per component.
        rul_hours: (B,) remaining useful life (capped at the bundle's RUL cap).
        fault_probabilities: (B, F) next fault type (``fault_classes``; class 0 = none).
        health_probabilities: (B, 3) healthy / degrading / critical.
        anomaly_score: (B,) distance from healthy behaviour.
        frame_anomaly: (B,) PatchCore anomaly of the newest frame of each camera against the healthy frames'
            memory bank, divided by the healthy validation frames' 99th percentile (1 = that percentile) and
            the largest over the cameras; NaN for a window without frames. ``None`` when the bundle has no
            frame anomaly component (see :mod:`omnimaint.models.frame_anomaly`).
        modality_weights: (B, 5) contribution of each modality (0 when absent).
        alerts: (B, H) failure probability at or above the calibrated threshold.
        horizons_hours: The horizons.
        components: Component names (last axis of ``component_failure_probability``).
        fault_classes: Fault-class names.
    """

    asset_ids: np.ndarray
    anchors: np.ndarray
    failure_probability: np.ndarray
    component_failure_probability: np.ndarray
    rul_hours: np.ndarray
    fault_probabilities: np.ndarray
    health_probabilities: np.ndarray
    anomaly_score: np.ndarray
    modality_weights: np.ndarray
    alerts: np.ndarray
    horizons_hours: tuple[float, ...]
    components: tuple[str, ...]
    fault_classes: tuple[str, ...]
    frame_anomaly: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.asset_ids)

    @property
    def likely_fault(self) -> np.ndarray:
        """(B,) the likeliest fault class other than ``none`` (the diagnosis an alert carries)."""
        return 1 + self.fault_probabilities[:, 1:].argmax(axis=1)

    @classmethod
    def concat(cls, parts: list[HealthOutput]) -> HealthOutput:
        first = parts[0]
        arrays = {
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in first.__dataclass_fields__
            if isinstance(getattr(first, name), np.ndarray)
        }
        return cls(
            **arrays,
            horizons_hours=first.horizons_hours,
            components=first.components,
            fault_classes=first.fault_classes,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per window: asset, time, failure probability per horizon, RUL, likeliest fault, health."""
        frame = pd.DataFrame({"asset_id": self.asset_ids, "ts": pd.to_datetime(self.anchors, utc=True)})
        for h, hours in enumerate(self.horizons_hours):
            frame[f"p_failure_{hours:g}h"] = self.failure_probability[:, h]
            frame[f"alert_{hours:g}h"] = self.alerts[:, h]
        frame["rul_hours"] = self.rul_hours
        frame["fault"] = np.asarray(self.fault_classes, dtype=object)[self.fault_probabilities.argmax(axis=1)]
        frame["health"] = np.asarray(HEALTH_STATES, dtype=object)[self.health_probabilities.argmax(axis=1)]
        frame["anomaly_score"] = self.anomaly_score
        if self.frame_anomaly is not None:
            frame["frame_anomaly"] = self.frame_anomaly
        for i, modality in enumerate(MODALITIES):
            frame[f"weight_{modality}"] = self.modality_weights[:, i]
        return frame


def _onnx_name(bundle: Bundle, backend: str, onnx_file: Path | None) -> str:
    """Which listed ONNX file of ``bundle`` the ``onnx``/``onnx-int8`` backend runs."""
    default = ONNX_INT8_FILE if backend == "onnx-int8" else ONNX_FILE
    if onnx_file is not None:
        inside = bundle.path is not None and Path(onnx_file).parent.resolve() == bundle.path.resolve()
        if not inside:
            raise BundleError(f"{onnx_file}: not a file of the bundle {bundle.path}; export into the bundle")
        default = Path(onnx_file).name
    if bundle.path is None or default not in bundle.files:
        flag = " --int8" if backend == "onnx-int8" else ""
        raise BundleError(
            f"{bundle.path}: no {default} listed in bundle.json; "
            f"run `omnimaint export {bundle.path} --format onnx{flag}`"
        )
    return default


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class Predictor:
    """Scores windows with a bundle.

    Args:
        bundle: The loaded bundle.
        backend: ``torch`` or ``onnx`` (ONNX Runtime on the bundle's ``model.onnx``, or ``onnx_file``).
        onnx_file: Another ONNX file of this bundle (e.g. the int8-quantised one), listed in its
            ``bundle.json``; it is read through its checksum like every file of a bundle.
        threads: Intra-op threads of the backend (``None``: library default).
        preprocessor: A preprocessor built on the bundle's state (to share a warm text-embedding cache).
        frame_views: Test-time frame views instead of the bundle's (``preprocess.frames.test_views`` when it
            was trained), for measuring what they change.

    The bundle's frame anomaly component (PatchCore), when it has one, runs in PyTorch on every backend: the ONNX
    files hold the model's heads only (docs/decisions.md).
    """

    def __init__(
        self,
        bundle: Bundle,
        backend: Backend = "torch",
        *,
        onnx_file: Path | None = None,
        threads: int | None = None,
        preprocessor: Preprocessor | None = None,
        frame_views: FrameViews | None = None,
    ) -> None:
        if bundle.kind != "model":
            raise BundleError(f"{bundle.path}: a '{bundle.kind}' bundle has no trained heads; fine-tune it first")
        self.bundle = bundle
        self.backend = backend
        self.preprocessor = preprocessor if preprocessor is not None else Preprocessor(bundle.preprocessor)
        self.modalities = bundle.model_config.modalities
        self.input_names = ModelInputs.field_names(self.modalities)
        self.frame_views: FrameViews = frame_views or bundle.preprocessor.frames.test_views
        self._rul_cap_hours = bundle.window.rul_cap.total_seconds() / 3600
        self._thresholds = np.asarray(bundle.thresholds.failure_probability or [0.5] * len(bundle.window.horizons))
        self.threads = threads
        self.frame_anomaly = load_frame_anomaly(bundle)
        if backend == "torch":
            self.model = bundle.build_model()
            if threads is not None:
                torch.set_num_threads(threads)
        elif backend in ("onnx", "onnx-int8"):
            import onnxruntime as ort

            name = _onnx_name(bundle, backend, onnx_file)
            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only: its warnings are notes on graph optimisation
            if threads is not None:
                options.intra_op_num_threads = threads
            # From the checked bytes, never from the path: a file swapped after loading is not used.
            model_bytes = bundle.read_file(name)
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        else:
            raise BundleError(f"unknown backend {backend!r}; use 'torch', 'onnx' or 'onnx-int8'")

    @classmethod
    def from_bundle(
        cls, path: str | Path, backend: Backend = "torch", *, public_key: Path | None = None, **kwargs: object
    ) -> Predictor:
        """Load a bundle folder and build a predictor on it.

        Args:
            path: Bundle folder.
            backend: See :class:`Predictor`.
            public_key: Require a signature of the bundle by this Ed25519 public key (PEM file).
            kwargs: Further arguments of :class:`Predictor`.
        """
        return cls(Bundle.load(path, public_key=public_key), backend, **kwargs)  # type: ignore[arg-type]

    def windows(
        self,
        dataset: Dataset,
        *,
        split: Split | None = None,
        anchors: pd.DataFrame | None = None,
        check: bool = True,
        stride: timedelta | None = None,
    ) -> WindowedDataset:
        """Windows of ``dataset`` cut exactly as the bundle's model was trained on.

        Args:
            dataset: The dataset.
            split: Restrict assets and period.
            anchors: Explicit anchors instead of the stride grid.
            check: First check that the dataset (the split's assets) fits the bundle
                (:func:`~omnimaint.inference.compatibility.ensure_fit`); ``False`` when the caller has.
            stride: Another spacing of the anchor grid than the bundle's (each window's content is the same).

        Raises:
            IncompatibleDataError: if the dataset does not fit the bundle.
            ConfigError: if ``stride`` does not suit the bundle's window (telemetry steps).
        """
        if check:
            ensure_fit(self.bundle, dataset, assets=split.asset_ids if split is not None else None)
        state, spec = self.bundle.preprocessor, self.bundle.window
        if stride is not None:
            try:
                spec = WindowSpec.model_validate({**spec.model_dump(), "stride": stride})
            except ValueError as exc:
                raise ConfigError(f"stride {stride}: {exc}") from exc
        return WindowedDataset(dataset, spec, vocab=state.vocab, split=split, anchors=anchors, regimes=state.regimes)

    def adapted(self, windows: WindowedDataset, *, batch_size: int = 256, progress: bool = False) -> Predictor:
        """This predictor with its model's input standardisers re-estimated on ``windows``, without their labels:
        the statistics of a new operating condition in place of the training data's
        (:func:`~omnimaint.inference.adaptation.adapt_bundle`). On an ONNX backend the adapted model is exported
        again, in a temporary folder (verified for parity as any export); the bundle on disk never changes.

        Raises:
            BundleError: if the model standardises no input (``model.waveform.standardise`` off) or ``windows``
                hold no input that it standardises.
        """
        bundle = adapt_bundle(
            self.bundle, windows, preprocessor=self.preprocessor, batch_size=batch_size, progress=progress
        )
        options = {"threads": self.threads, "preprocessor": self.preprocessor, "frame_views": self.frame_views}
        if self.backend == "torch":  # the new weights live here only
            return Predictor(bundle, "torch", **options)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="omnimaint-adapted-") as tmp:
            folder = save_adapted(bundle, Path(tmp) / "bundle")
            export_bundle(folder, int8=self.backend == "onnx-int8")
            return Predictor(Bundle.load(folder), self.backend, **options)  # type: ignore[arg-type]

    def raw(self, inputs: ModelInputs) -> tuple[np.ndarray, ...]:
        """Head outputs in :data:`HEAD_OUTPUTS` order, as NumPy arrays."""
        if self.backend == "torch":
            with torch.inference_mode():
                return tuple(t.numpy() for t in self.model(inputs).as_tuple())
        feeds = {name: t.numpy() for name, t in zip(self.input_names, inputs.flatten(self.modalities), strict=True)}
        return tuple(self.session.run(list(HEAD_OUTPUTS), feeds))

    def _assess(self, inputs: ModelInputs) -> tuple[np.ndarray, ...]:
        """Head outputs with probabilities in place of logits: failure probability (B, H, 1 + P), RUL fraction,
        fault and health probabilities, anomaly score, modality weights."""
        failure, rul, fault, health, anomaly, weights = self.raw(inputs)
        return _sigmoid(failure), rul, _softmax(fault), _softmax(health), anomaly, weights

    def predict(
        self,
        batch: Batch,
        *,
        drop: tuple[str, ...] = (),
        frame_views: FrameViews | None = None,
        frame_anomaly: bool = True,
    ) -> HealthOutput:
        """Assess a batch of windows; ``drop`` marks modalities absent (to measure what each one adds);
        ``frame_views`` overrides the predictor's test-time frame views for this call. With ``dihedral`` views
        every output (probabilities, RUL, anomaly score, weights) is the mean over the eight views; the frame
        anomaly reads each camera's newest frame as it is. ``frame_anomaly=False`` skips the frame anomaly
        component (``HealthOutput.frame_anomaly`` is then ``None``): occlusion re-scorings, which edit frames
        patch by patch, need only the heads."""
        inputs = self.preprocessor(batch)
        if drop:
            inputs = mask_modalities(inputs, drop)
        if (frame_views or self.frame_views) == "dihedral" and inputs.frames is not None:
            views = [self._assess(replace(inputs, frames=dihedral_view(inputs.frames, v))) for v in range(N_VIEWS)]
            assessed = tuple(np.mean(outputs, axis=0) for outputs in zip(*views, strict=True))
        else:
            assessed = self._assess(inputs)
        probability, rul, fault, health, anomaly, weights = assessed  # probability: (B, H, 1 + P)
        vocab = self.bundle.preprocessor.vocab
        return HealthOutput(
            asset_ids=batch.asset_ids,
            anchors=batch.anchors,
            failure_probability=probability[:, :, 0],
            component_failure_probability=probability[:, :, 1:],
            rul_hours=np.minimum(rul, 1.0) * self._rul_cap_hours,  # the head's softplus is not bounded above
            fault_probabilities=fault,
            health_probabilities=health,
            anomaly_score=anomaly,
            modality_weights=weights,
            alerts=probability[:, :, 0] >= self._thresholds[None, :],
            horizons_hours=tuple(h.total_seconds() / 3600 for h in self.bundle.window.horizons),
            components=vocab.components,
            fault_classes=vocab.fault_classes,
            frame_anomaly=self._frame_anomaly(batch, drop) if frame_anomaly else None,
        )

    def _frame_anomaly(self, batch: Batch, drop: tuple[str, ...]) -> np.ndarray | None:
        """(B,) the window's frame anomaly (NaN without frames, or with ``frames`` dropped); ``None`` without the
        component."""
        if self.frame_anomaly is None:
            return None
        if "frames" in drop:
            return np.full(len(batch), np.nan)
        return self.frame_anomaly_scores(batch).window

    def frame_anomaly_scores(self, batch: Batch, *, maps: bool = False) -> FrameAnomalyScores:
        """The frame anomaly component's scores (and with ``maps``, anomaly maps) of each camera's newest frame.

        Windows whose frames are marked absent (``Batch.presence``) count as having none.

        Raises:
            BundleError: if the bundle has no frame anomaly component.
        """
        if self.frame_anomaly is None:
            raise BundleError(
                f"{self.bundle.path}: the bundle has no frame anomaly component "
                "(train with frame_anomaly.method: patchcore)"
            )
        n, cameras = len(batch), len(self.frame_anomaly.settings.cameras)
        if batch.frames is None or batch.frame_mask is None:
            empty = np.zeros((n, 1, cameras), dtype=bool)
            return self.frame_anomaly.score(np.zeros((n, 1, cameras, 1, 1, 3), np.uint8), empty, maps=maps)
        mask = batch.frame_mask & batch.present("frames")[:, None, None]
        with torch_threads(self.threads), torch.inference_mode():
            return self.frame_anomaly.score(batch.frames, mask, maps=maps)

    def fused_state(self, batch: Batch) -> np.ndarray:
        """(B, D) fused state of each window: the vector the heads read (an ensemble's members' mean), with which
        the case base finds past failures that looked alike (:mod:`omnimaint.diagnosis.cases`).

        Raises:
            BundleError: on an ONNX backend, whose graph returns the heads' outputs only.
        """
        if self.backend != "torch":
            raise BundleError(
                f"the fused state is read from the PyTorch model; the {self.backend} backend exports only the heads' "
                "outputs (use backend='torch')"
            )
        with torch.inference_mode():
            return self.model(self.preprocessor(batch)).embedding.numpy()

    def predict_windows(
        self,
        windows: WindowedDataset,
        *,
        batch_size: int = 64,
        progress: bool = False,
        drop: tuple[str, ...] = (),
        description: str = "scoring windows",
        frame_views: FrameViews | None = None,
        frame_anomaly: bool = True,
    ) -> HealthOutput:
        """Assess every window of ``windows`` (in anchor order); with ``progress``, a bar (see
        :mod:`omnimaint.progress`) says ``description`` and counts the batches. ``drop``, ``frame_views`` and
        ``frame_anomaly`` as in :meth:`predict`."""
        from omnimaint.progress import track

        starts = track(range(0, len(windows), batch_size), description, enabled=progress)
        parts = [
            self.predict(
                windows.batch(np.arange(s, min(s + batch_size, len(windows)))),
                drop=drop,
                frame_views=frame_views,
                frame_anomaly=frame_anomaly,
            )
            for s in starts
        ]
        return HealthOutput.concat(parts)
