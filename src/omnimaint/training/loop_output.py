"""How a Lightning loop shows itself: quietly, through the application's own channels.

- Its progress bar is drawn on stderr, only on a terminal, without Lightning's ``v_num``.
- Its model summary (a table of two rows and a FLOPs column that reads 0 without an example input) is
  replaced by one log line with the parameter count.
- Its log records go through the application's logging configuration only: ``import lightning``
  attaches a console handler of its own and sets INFO on its loggers, which printed every line twice
  beside the command line's handler and ignored its verbosity.
- Ctrl-C stays a :class:`KeyboardInterrupt`: Lightning turns it into ``sys.exit(1)`` after its clean-up,
  which would leave the command line no way to say "interrupted".
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar

logger = logging.getLogger(__name__)

_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


class InterruptibleTrainer(L.Trainer):
    """A Lightning trainer whose :meth:`fit` raises :class:`KeyboardInterrupt` on Ctrl-C (after Lightning's
    own clean-up: callbacks told, loggers closed, data-loader workers ended)."""

    def fit(self, *args: Any, **kwargs: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        try:
            super().fit(*args, **kwargs)
        except SystemExit as exc:
            # Lightning's sys.exit(1) is raised while it handles the KeyboardInterrupt; any other exit stays.
            if not (self.interrupted and isinstance(exc.__context__, KeyboardInterrupt)):
                raise
            # Lightning ignores SIGINT from then on, for its shutdown; this process goes on.
            if threading.current_thread() is threading.main_thread() and handler is not None:
                signal.signal(signal.SIGINT, handler)
            raise KeyboardInterrupt from None


class StderrProgressBar(RichProgressBar):
    """Lightning's Rich bar on stderr (stdout holds the command's result), without the logger version."""

    def __init__(self) -> None:
        super().__init__(console_kwargs={"stderr": True})

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class ModelSize(L.Callback):
    """Logs the model's parameter count once, when fitting starts."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            parameters = list(pl_module.parameters())
            total = sum(p.numel() for p in parameters)
            trainable = sum(p.numel() for p in parameters if p.requires_grad)
            logger.info("model: %s parameters (%s trainable)", f"{total:,}", f"{trainable:,}")


def lightning_logs_through_root() -> None:
    """Where the application has configured logging (the root logger has a handler), send Lightning's
    records through it alone and at its level: drop the handler ``import lightning`` attached and the INFO
    level it set. Without a root handler, Lightning keeps printing its own lines."""
    if not logging.getLogger().handlers:
        return
    for name in _LIGHTNING_LOGGERS:
        lightning_logger = logging.getLogger(name)
        lightning_logger.setLevel(logging.NOTSET)
        lightning_logger.propagate = True
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
