"""Bundles, the Predictor (PyTorch and ONNX Runtime) and export.

Owns: saving/loading/verifying bundles, scoring windows, ONNX export and quantisation. Must not
import training code; evaluation and the service build on this package.
"""

from omnimaint.inference.bundle import Bundle, BundleError, Thresholds
from omnimaint.inference.predictor import HealthOutput, Predictor

__all__ = ["Bundle", "BundleError", "HealthOutput", "Predictor", "Thresholds"]
