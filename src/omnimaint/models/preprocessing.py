"""The one preprocessing path: :class:`Batch` (NumPy, physical units) → :class:`ModelInputs` (tensors).

Fitted on the training windows only (:meth:`Preprocessor.fit`), saved as JSON in the model bundle,
and used unchanged by training, evaluation, the Predictor, ONNX inference and the live service.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from omnimaint.data.regimes import OperatingRegimes
from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import MODALITIES, Batch, WindowSpec
from omnimaint.models.config import FramePreprocessing, ModelConfig, TextEncoderConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.text_embedding import DomainTokenizer, SentenceEmbedder
from omnimaint.progress import progress_bar

TELEMETRY_CLIP = 10.0
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601 weights of red, green and blue in grey levels (those of PIL's ``L`` mode)."""
MIN_FRAME_STD = 1e-3
"""Floor of a frame's own standard deviation under contrast normalisation (a flat or empty frame stays 0)."""


class TrainingWindows(Protocol):
    """What the preprocessors are fitted on: the training windows of a dataset.

    :class:`~omnimaint.data.sample_builder.WindowedDataset` is one; the model package names only what it
    reads, so that it never depends on how windows are cut from a dataset.
    """

    @property
    def spec(self) -> WindowSpec:
        """What each window looks at."""
        ...

    @property
    def vocab(self) -> Vocabulary:
        """Category orders, fitted on the training data."""
        ...

    @property
    def regimes(self) -> OperatingRegimes | None:
        """The operating regimes the windows' telemetry is normalised with, fitted on the training data."""
        ...

    def telemetry_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (C,) centre and scale of the telemetry the windows read."""
        ...

    def frame_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-colour (3,) mean and standard deviation of the frames the windows read."""
        ...

    def waveform_rms(self) -> np.ndarray:
        """Per-channel (C,) RMS of the waveforms the windows read."""
        ...

    def visible_texts(self) -> list[str]:
        """Every event and work-order text the windows read."""
        ...


class PreprocessorState(BaseModel):
    """Everything fitted, and the preprocessing options (``frames``, ``text``), as stored in ``preprocessors.json``.

    ``regimes`` holds the operating regimes of the telemetry option ``regimes`` (``None`` without it): the sample
    builder applies them to every grid step (:class:`~omnimaint.data.sample_builder.WindowedDataset`), before the
    telemetry is centred and scaled here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab: Vocabulary
    regimes: OperatingRegimes | None = None
    modalities: tuple[str, ...]
    telemetry_center: tuple[float, ...] = ()
    telemetry_scale: tuple[float, ...] = ()
    waveform_scale: tuple[float, ...] = ()
    frame_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    frame_std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    frames: FramePreprocessing = FramePreprocessing()
    text: TextEncoderConfig = TextEncoderConfig()
    text_embedding_dim: int = 384
    domain_tokenizer: str | None = None


class Preprocessor:
    """Normalises a batch and turns text into embeddings or token ids.

    Args:
        state: The fitted state.
        embedder: A ready sentence embedder (shared between preprocessors to keep one cache); built
            from ``state.text`` when needed and not given.
    """

    def __init__(self, state: PreprocessorState, embedder: SentenceEmbedder | None = None) -> None:
        self.state = state
        self._center = np.asarray(state.telemetry_center, dtype=np.float32)
        self._scale = np.asarray(state.telemetry_scale, dtype=np.float32)
        self._waveform_scale = np.asarray(state.waveform_scale, dtype=np.float32)
        self._frame_mean = np.asarray(state.frame_mean, dtype=np.float32)
        self._frame_std = np.asarray(state.frame_std, dtype=np.float32)
        self._uses_text = any(m in state.modalities for m in ("events", "maintenance"))
        self._embedder = embedder
        self._tokenizer = (
            DomainTokenizer(state.domain_tokenizer, state.text.max_tokens)
            if state.text.name == "domain" and state.domain_tokenizer is not None
            else None
        )

    @classmethod
    def fit(
        cls,
        windows: TrainingWindows,
        text: TextEncoderConfig | None = None,
        *,
        frames: FramePreprocessing | None = None,
        embedder: SentenceEmbedder | None = None,
    ) -> Preprocessor:
        """Fit on the data the training windows read (never on validation or test data); ``frames`` and
        ``text`` are options kept in the state (default: their defaults)."""
        text = text if text is not None else TextEncoderConfig()
        modalities = windows.spec.enabled
        uses_text = any(m in modalities for m in ("events", "maintenance"))
        tokenizer_json = None
        dim = text.embedding_dim
        with progress_bar("fitting preprocessors: telemetry", 4) as advance:
            center, scale = windows.telemetry_statistics()
            advance(1, description="fitting preprocessors: frames")
            frame_mean, frame_std = windows.frame_statistics()
            advance(1, description="fitting preprocessors: waveforms")
            waveform_scale = windows.waveform_rms()
            advance(1, description="fitting preprocessors: text encoder")
            if uses_text and text.name == "domain":
                tokenizer = DomainTokenizer.train(windows.visible_texts(), text.vocab_size, text.max_tokens)
                tokenizer_json = tokenizer.to_json()
            elif uses_text:
                embedder = embedder if embedder is not None else SentenceEmbedder(text.model)
                dim = embedder.dim
            advance(1)
        state = PreprocessorState(
            vocab=windows.vocab,
            regimes=windows.regimes,
            modalities=modalities,
            telemetry_center=tuple(float(v) for v in center),
            telemetry_scale=tuple(float(v) for v in scale),
            waveform_scale=tuple(float(v) for v in waveform_scale),
            frame_mean=tuple(float(v) for v in frame_mean),  # type: ignore[arg-type]
            frame_std=tuple(float(v) for v in frame_std),  # type: ignore[arg-type]
            frames=frames if frames is not None else FramePreprocessing(),
            text=text.model_copy(update={"embedding_dim": dim}),
            text_embedding_dim=dim,
            domain_tokenizer=tokenizer_json,
        )
        return cls(state, embedder=embedder)

    @property
    def embedder(self) -> SentenceEmbedder:
        if self._embedder is None:
            self._embedder = SentenceEmbedder(self.state.text.model)
        return self._embedder

    @property
    def text_vocab_size(self) -> int:
        return self._tokenizer.vocab_size if self._tokenizer is not None else self.state.text.vocab_size

    def load_text_model(self) -> None:
        """Load the pretrained text model now rather than at the first window with text (the live service does
        it before it serves: loading takes seconds, which would otherwise delay its first alarms)."""
        if self._uses_text and self.state.text.name == "pretrained":
            _ = self.embedder

    def warm_text_cache(self, windows: TrainingWindows, *, progress: bool = False) -> None:
        """Embed every text the windows read once, up front (pretrained text pathway only)."""
        if self._uses_text and self.state.text.name == "pretrained":
            self.embedder.warm(windows.visible_texts(), progress=progress)

    def _texts(self, texts: tuple[str, ...], ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Per slot (B, N) text index → (B, N, X) embeddings or token ids, and (B, N) presence."""
        present = ids >= 0
        table: np.ndarray
        if self.state.text.name == "domain":
            assert self._tokenizer is not None
            width = self.state.text.max_tokens
            table = self._tokenizer.encode(list(texts)) if texts else np.zeros((0, width), np.int64)
        else:
            width = self.state.text_embedding_dim
            table = self.embedder.embed(list(texts)) if texts else np.zeros((0, width), np.float32)
        out = np.zeros((*ids.shape, width), dtype=table.dtype)
        if texts:
            out[present] = table[ids[present]]
        return torch.from_numpy(out), torch.from_numpy(present)

    def _frames(self, frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Frames (B, K, Cam, S, S, 3) uint8 → (B, K, Cam, 3, S, S) float32 as ``state.frames`` says; empty slots 0."""
        options = self.state.frames
        pixels = frames.astype(np.float32) / 255.0
        mean, std = self._frame_mean, self._frame_std
        if options.grey:
            pixels = pixels @ LUMA  # (B, K, Cam, S, S)
            # The mean of the grey levels is the luma-weighted mean of the colours; their spread is at most the
            # luma-weighted spread of the colours, and equal to it for grey sources.
            mean, std = LUMA @ mean, LUMA @ std
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        if options.normalise == "frame":
            mean = pixels.mean(axis=(-3, -2, -1), keepdims=True)
            std = np.maximum(pixels.std(axis=(-3, -2, -1), keepdims=True), MIN_FRAME_STD)
        pixels = (pixels - mean) / std * mask[..., None, None, None]
        return np.ascontiguousarray(np.moveaxis(pixels, -1, -3), dtype=np.float32)

    def __call__(self, batch: Batch) -> ModelInputs:
        """Model inputs for ``batch`` (CPU tensors)."""
        fields: dict[str, torch.Tensor] = {
            "asset_type": torch.from_numpy(np.maximum(batch.asset_type, 0).astype(np.int64)),
            "presence": torch.from_numpy(batch.presence.copy()),
        }
        modalities = self.state.modalities
        if "telemetry" in modalities:
            assert batch.telemetry is not None and batch.telemetry_mask is not None
            normalised = np.clip((batch.telemetry - self._center) / self._scale, -TELEMETRY_CLIP, TELEMETRY_CLIP)
            fields["telemetry"] = torch.from_numpy((normalised * batch.telemetry_mask).astype(np.float32))
            fields["telemetry_mask"] = torch.from_numpy(batch.telemetry_mask)
        if "waveforms" in modalities:
            assert batch.waveforms is not None and batch.waveform_mask is not None
            assert batch.waveform_age_hours is not None
            scaled = batch.waveforms / self._waveform_scale[None, None, :, None]
            fields["waveforms"] = torch.from_numpy(scaled.astype(np.float32))
            fields["waveform_mask"] = torch.from_numpy(batch.waveform_mask)
            fields["waveform_age"] = torch.from_numpy(batch.waveform_age_hours)
        if "frames" in modalities:
            assert batch.frames is not None and batch.frame_mask is not None and batch.frame_age_hours is not None
            fields["frames"] = torch.from_numpy(self._frames(batch.frames, batch.frame_mask))
            fields["frame_mask"] = torch.from_numpy(batch.frame_mask)
            fields["frame_age"] = torch.from_numpy(batch.frame_age_hours)
        if "events" in modalities:
            assert batch.event_codes is not None and batch.event_severity is not None and batch.event_mask is not None
            assert batch.event_age_hours is not None and batch.event_text is not None
            text, text_present = self._texts(batch.texts, batch.event_text)
            fields |= {
                "event_codes": torch.from_numpy(batch.event_codes),
                "event_severity": torch.from_numpy(batch.event_severity),
                "event_age": torch.from_numpy(batch.event_age_hours),
                "event_text": text,
                "event_text_mask": text_present,
                "event_mask": torch.from_numpy(batch.event_mask),
            }
        if "maintenance" in modalities:
            assert batch.maintenance_text is not None and batch.maintenance_mask is not None
            assert batch.maintenance_component is not None and batch.maintenance_kind is not None
            assert batch.maintenance_age_hours is not None
            assert batch.since_maintenance_hours is not None and batch.since_maintenance_known is not None
            text, text_present = self._texts(batch.texts, batch.maintenance_text)
            fields |= {
                "maintenance_text": text,
                "maintenance_text_mask": text_present,
                "maintenance_component": torch.from_numpy(batch.maintenance_component),
                "maintenance_kind": torch.from_numpy(batch.maintenance_kind),
                "maintenance_age": torch.from_numpy(batch.maintenance_age_hours),
                "maintenance_mask": torch.from_numpy(batch.maintenance_mask),
                "since_maintenance": torch.from_numpy(batch.since_maintenance_hours),
                "since_maintenance_known": torch.from_numpy(batch.since_maintenance_known),
            }
        return ModelInputs(**fields)


def mask_modalities(inputs: ModelInputs, drop: tuple[str, ...]) -> ModelInputs:
    """A copy of ``inputs`` in which the ``drop`` modalities are marked absent (for ablations)."""
    presence = inputs.presence.clone()
    for name in drop:
        presence[:, MODALITIES.index(name)] = False
    values = {f: getattr(inputs, f) for f in inputs.__dataclass_fields__}
    values["presence"] = presence
    return ModelInputs(**values)


def complete_config(architecture: ModelConfig, spec: WindowSpec, preprocessor: Preprocessor) -> ModelConfig:
    """Fill the data-dependent sizes of ``architecture`` from the window spec and fitted preprocessor."""
    vocab = preprocessor.state.vocab
    sizes: dict[str, object] = {
        "modalities": spec.enabled,
        "n_telemetry_channels": (
            len(spec.telemetry.input_channels(vocab.telemetry_channels, preprocessor.state.regimes))
            if spec.telemetry
            else 0
        ),
        "n_waveform_channels": len(vocab.waveform_channels),
        "n_cameras": len(vocab.cameras),
        "n_event_codes": vocab.n_event_codes,
        "n_components": len(vocab.components),
        "n_fault_classes": len(vocab.fault_classes),
        "n_asset_types": len(vocab.asset_types),
        "n_horizons": len(spec.horizons),
        "telemetry_steps": spec.telemetry.length if spec.telemetry is not None else 0,
        "waveform_length": spec.waveforms.length if spec.waveforms is not None else 0,
        "frame_size": spec.frames.size if spec.frames is not None else 0,
        "text": preprocessor.state.text.model_copy(update={"vocab_size": preprocessor.text_vocab_size}),
    }
    return architecture.model_copy(update=sizes)
