"""omnimaint: multimodal equipment-health monitoring and fault early warning.

The public surface is declared once in ``__all__``; subpackages own their parts:
``omnimaint.data`` (canonical data model, windows, splits), ``omnimaint.sim`` (the simulated plant),
and, as they land, adapters, models, training, evaluation, baselines, inference and diagnosis.
"""

from omnimaint.errors import ConfigError, DatasetError, OmnimaintError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DatasetError", "OmnimaintError", "__version__"]
