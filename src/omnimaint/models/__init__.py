"""The multimodal model (DESIGN.md §4): encoders, cross-modal fusion, multi-task heads.

Owns pure ``nn.Module`` code and its typed inputs/outputs. Must not import training, inference,
evaluation or service code (no optimisers, losses, loggers or file paths here).
"""

from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs, ModelOutputs
from omnimaint.models.omni import ExportableModel, OmniModel
from omnimaint.models.registry import create_encoder, create_fusion, list_encoders, list_fusions, list_text

__all__ = [
    "ExportableModel",
    "ModelConfig",
    "ModelInputs",
    "ModelOutputs",
    "OmniModel",
    "create_encoder",
    "create_fusion",
    "list_encoders",
    "list_fusions",
    "list_text",
]
