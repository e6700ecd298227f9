"""Throughput of the window builder and the model on two CPU cores (`make bench`; prints measured figures).

Figures: windows/s of batch building; training samples/s; inference windows/s at batch 1 and 64 for
PyTorch, ONNX Runtime and ONNX Runtime on the int8 model (model only, on preprocessed inputs, and end to end from the dataset).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from omnimaint.atomic import BENCH, claim_folder
from omnimaint.data.dataset import Dataset
from omnimaint.inference import Predictor
from omnimaint.inference.export import export_bundle
from omnimaint.training.config import load_config
from omnimaint.training.run import train

pytestmark = pytest.mark.bench


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omnimaint.sim import PlantConfig, simulate

    out = tmp_path_factory.mktemp("bench") / "plant"
    simulate(PlantConfig(n_assets=12, days=45, seed=0, fault_rate_scale=3.0), out)
    return out


def test_throughput(plant: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    torch.set_num_threads(2)
    results: dict[str, float] = {}
    config = load_config(
        None,
        {"data.dataset": str(plant), "out": str(tmp_path / "run"), "optim.max_epochs": 1, "progress": False},
    )
    started = time.perf_counter()
    bundle = train(config)
    results["train_run_seconds"] = round(time.perf_counter() - started, 1)
    assert bundle is not None
    export_bundle(bundle, int8=True)
    torch_predictor = Predictor.from_bundle(bundle, threads=2)
    onnx_predictor = Predictor.from_bundle(bundle, "onnx", threads=2)
    int8_predictor = Predictor.from_bundle(bundle, "onnx-int8", threads=2)
    windows = torch_predictor.windows(Dataset(plant))
    torch_predictor.preprocessor.warm_text_cache(windows)
    onnx_predictor.preprocessor = int8_predictor.preprocessor = torch_predictor.preprocessor

    started = time.perf_counter()
    built = 0
    for start in range(0, min(len(windows), 64 * 20), 64):
        built += len(windows.batch(np.arange(start, min(start + 64, len(windows)))))
    results["window_batches_windows_per_s"] = _rate(built, time.perf_counter() - started)

    from omnimaint.training.data import Collate
    from omnimaint.training.losses import UncertaintyWeighting, task_losses

    collate = Collate(windows, torch_predictor.preprocessor, np.ones(len(windows), dtype=bool))
    model = torch_predictor.bundle.build_model().train()
    weighting = UncertaintyWeighting()
    optimiser = torch.optim.AdamW([*model.parameters(), *weighting.parameters()], lr=1e-3)
    steps, batch_size = 10, 32
    started = time.perf_counter()
    for step in range(steps):
        batch = collate(list(range(step * batch_size, (step + 1) * batch_size)))
        loss = weighting(task_losses(model(batch.inputs), batch.labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    results["train_samples_per_s"] = _rate(steps * batch_size, time.perf_counter() - started)

    for size in (1, 64):
        batch = windows.batch(np.arange(size))
        inputs = torch_predictor.preprocessor(batch)
        repeats = max(3, 256 // size)
        for name, predictor in (("torch", torch_predictor), ("onnx", onnx_predictor), ("int8", int8_predictor)):
            predictor.raw(inputs)  # warm-up
            started = time.perf_counter()
            for _ in range(repeats):
                predictor.raw(inputs)
            results[f"{name}_model_batch{size}_windows_per_s"] = _rate(repeats * size, time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(repeats):
                predictor.predict(windows.batch(np.arange(size)))
            results[f"{name}_end_to_end_batch{size}_windows_per_s"] = _rate(
                repeats * size, time.perf_counter() - started
            )

    out = claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\nthroughput on", torch.get_num_threads(), "threads:")
    for name, value in results.items():
        print(f"  {name:45s} {value}")
    assert results["onnx_model_batch64_windows_per_s"] > 0
