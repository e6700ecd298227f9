"""``optim.encoder_tasks``: the other heads learn on the shared layers without changing them."""

from __future__ import annotations

import torch

from omnimaint.models.examples import example_config, example_inputs
from omnimaint.models.omni import OmniModel
from omnimaint.training.config import OptimConfig
from omnimaint.training.tasks import FineTuneTask


def _gradients(encoder_tasks: tuple[str, ...] | None) -> tuple[float, float]:
    """Gradient norms of the encoders' and of the failure head's weights under the failure logits alone."""
    torch.manual_seed(0)
    model = OmniModel(example_config())
    FineTuneTask(model, OptimConfig(encoder_tasks=encoder_tasks))  # type: ignore[arg-type]
    out = model(example_inputs(model.config, batch_size=4))
    out.failure_logits.sum().backward()
    encoders = sum(float(p.grad.norm()) for p in model.encoders.parameters() if p.grad is not None)
    head = float(model.heads.failure.weight.grad.norm())  # type: ignore[union-attr]
    return encoders, head


def test_a_readout_head_trains_itself_but_not_the_shared_layers() -> None:
    encoders, head = _gradients(("rul",))
    assert encoders == 0.0 and head > 0.0


def test_by_default_every_task_trains_the_shared_layers() -> None:
    encoders, head = _gradients(None)
    assert encoders > 0.0 and head > 0.0
