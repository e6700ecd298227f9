"""Checks of a run's settings that need no data, made before the data is prepared (about a minute).

A checkpoint to resume must be a Lightning checkpoint of the same objective that loads with PyTorch's
safe, weights-only unpickler: one that would need ``weights_only=False`` can run code from the file, so it
is refused, never loaded in a weaker mode. An accelerator must exist on this machine, with as many
devices as asked for.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Literal

import torch

from omnimaint.errors import ConfigError
from omnimaint.training.config import TrainConfig

_TRAINING_STATE = ("state_dict", "epoch", "global_step", "loops")
# A buffer or parameter that only one objective's Lightning task has (training/tasks.py).
_OBJECTIVE_MARK = {"model": "fault_weights", "pretrained": "log_temperature"}
_COMMAND = {"model": "omnimaint train", "pretrained": "omnimaint pretrain"}


def preflight(config: TrainConfig, kind: Literal["model", "pretrained"]) -> None:
    """Refuse, before any data is read, a run whose checkpoint or accelerator cannot work.

    Raises:
        ConfigError: with one line naming the setting and what to do.
    """
    check_accelerator(config.accelerator, config.devices)
    if config.resume is not None:
        check_checkpoint(config.resume, kind)


def check_accelerator(accelerator: str, devices: int) -> None:
    """Refuse an accelerator this machine does not have, or more devices than it has.

    Raises:
        ConfigError: naming the accelerator, what the machine has, and the alternative.
    """
    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = 1 if torch.backends.mps.is_available() else 0
    if accelerator == "auto" and cuda == 0:
        return  # Lightning falls back to the CPU (or MPS), where --devices counts processes
    available = {"gpu": cuda or mps, "cuda": cuda, "mps": mps, "auto": cuda}.get(accelerator)
    if available is None:  # cpu: --devices counts processes
        return
    if available == 0:
        build = " (this torch is a CPU-only build)" if torch.version.cuda is None and accelerator != "mps" else ""
        device = "Apple MPS device" if accelerator == "mps" else "GPU"
        raise ConfigError(f"accelerator {accelerator!r}: this machine has no {device}{build}; use --accelerator cpu")
    if devices > available:
        raise ConfigError(
            f"--devices {devices} with accelerator {accelerator!r}: this machine has {available} "
            f"{'device' if available == 1 else 'devices'}; use --devices {available} or fewer"
        )


def check_checkpoint(path: Path, kind: Literal["model", "pretrained"]) -> None:
    """Refuse a checkpoint that is missing, not a file, not a Lightning checkpoint of ``kind``'s objective,
    or unsafe to load (it needs more than PyTorch's weights-only unpickler).

    Raises:
        ConfigError: naming the checkpoint and what is wrong with it.
    """
    where = f"--resume {path}"
    if not path.exists():
        raise ConfigError(f"{where}: no such checkpoint file")
    if path.is_dir():
        last = next((c for c in (path / "checkpoints" / "last.ckpt", path / "last.ckpt") if c.is_file()), None)
        hint = f"did you mean {last}?" if last is not None else "give a .ckpt file from a run's checkpoints/ folder"
        raise ConfigError(f"{where}: is a folder, not a checkpoint file; {hint}")
    if not path.is_file():
        raise ConfigError(f"{where}: not a regular file")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{where}: not a PyTorch checkpoint (a .ckpt file written by omnimaint train or pretrain)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise ConfigError(
            f"{where}: refused, it holds Python objects{what} that only an unrestricted load, which can run "
            "code from the file, would rebuild; resume from a checkpoint written by omnimaint train or pretrain"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: not a readable PyTorch checkpoint ({reason})") from None
    missing = [key for key in _TRAINING_STATE if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ConfigError(
            f"{where}: not a Lightning training checkpoint (no '{missing[0]}'); resume from a .ckpt file in a "
            "run's checkpoints/ folder"
        )
    state = checkpoint["state_dict"]
    if isinstance(state, dict) and _OBJECTIVE_MARK[kind] not in state:
        other: Literal["model", "pretrained"] = "pretrained" if kind == "model" else "model"
        if _OBJECTIVE_MARK[other] in state:
            raise ConfigError(
                f"{where}: a checkpoint of a {'pretraining' if other == 'pretrained' else 'fine-tuning'} run; "
                f"resume it with {_COMMAND[other]}"
                + (" (to fine-tune from it, use --init-from with its run folder)" if other == "pretrained" else "")
            )
