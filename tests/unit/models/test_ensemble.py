"""An ensemble is one model to every consumer: its outputs are the members' mean, in the same layout."""

from __future__ import annotations

import math

import torch

from omnimaint.models.examples import example_config, example_inputs
from omnimaint.models.omni import OmniEnsemble, OmniModel, build_model, members


def test_build_model_gives_an_ensemble_only_when_asked() -> None:
    assert isinstance(build_model(example_config()), OmniModel)
    ensemble = build_model(example_config(ensemble=3))
    assert isinstance(ensemble, OmniEnsemble) and len(members(ensemble)) == 3


def test_ensemble_outputs_are_the_mean_of_the_members_probabilities() -> None:
    torch.manual_seed(0)
    ensemble = build_model(example_config(ensemble=2)).eval()
    x = example_inputs(ensemble.config, batch_size=3)
    with torch.inference_mode():
        out = ensemble(x)
        each = [m(x) for m in members(ensemble)]
    mean = lambda f: torch.stack([f(o) for o in each]).mean(dim=0)  # noqa: E731
    torch.testing.assert_close(torch.sigmoid(out.failure_logits), mean(lambda o: torch.sigmoid(o.failure_logits)))
    torch.testing.assert_close(torch.softmax(out.fault_logits, -1), mean(lambda o: torch.softmax(o.fault_logits, -1)))
    torch.testing.assert_close(torch.softmax(out.health_logits, -1), mean(lambda o: torch.softmax(o.health_logits, -1)))
    torch.testing.assert_close(out.rul, mean(lambda o: o.rul))
    # The members differ (fresh weights each), so the mean is not any one member's output.
    assert not torch.allclose(each[0].rul, each[1].rul)
    assert out.failure_logits.shape == each[0].failure_logits.shape


def test_the_mean_probability_logit_does_not_saturate_in_float32() -> None:
    """Two confident members (logits 20 and 25): through float32 probabilities the mean would round to 1 and
    its logit to the clamp; in log space it is the exact ``-log((e^-20 + e^-25) / 2)``."""
    from omnimaint.models.omni import _mean_probability_logit

    logits = [torch.tensor([20.0, -20.0]), torch.tensor([25.0, -25.0])]
    expected = -math.log((math.exp(-20) + math.exp(-25)) / 2)
    torch.testing.assert_close(_mean_probability_logit(logits), torch.tensor([expected, -expected]))
