"""The Lightning loop reports through the application: Ctrl-C stays a KeyboardInterrupt, logs go through the
configured handlers only."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from omnimaint.training.loop_output import InterruptibleTrainer, lightning_logs_through_root

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec")  # Lightning on newer torch, not ours


class _Stops(L.LightningModule):
    """A linear model whose second training step raises ``failure``."""

    def __init__(self, failure: BaseException) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.failure = failure

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == 1:
            raise self.failure
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader() -> DataLoader[tuple[torch.Tensor, ...]]:
    return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2)


def _trainer(tmp_path: object) -> InterruptibleTrainer:
    return InterruptibleTrainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )


@pytest.fixture
def sigint_handler() -> Iterator[object]:
    handler = signal.getsignal(signal.SIGINT)
    yield handler
    signal.signal(signal.SIGINT, handler)  # type: ignore[arg-type]


def test_ctrl_c_during_fit_is_a_keyboard_interrupt(tmp_path: object, sigint_handler: object) -> None:
    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path).fit(_Stops(KeyboardInterrupt()), train_dataloaders=_loader())
    assert signal.getsignal(signal.SIGINT) == sigint_handler  # Lightning had set it to SIG_IGN


def test_other_failures_during_fit_are_left_alone(tmp_path: object) -> None:
    with pytest.raises(SystemExit) as exited:
        _trainer(tmp_path).fit(_Stops(SystemExit(3)), train_dataloaders=_loader())
    assert exited.value.code == 3
    with pytest.raises(ZeroDivisionError):
        _trainer(tmp_path).fit(_Stops(ZeroDivisionError()), train_dataloaders=_loader())


def test_lightning_logs_go_through_the_root_handlers_only() -> None:
    lightning_logs_through_root()
    assert logging.getLogger().handlers  # pytest's own capture handler
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        assert logging.getLogger(name).handlers == []
        assert logging.getLogger(name).level == logging.NOTSET
