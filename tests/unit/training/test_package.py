"""Importing :mod:`omnimaint.training` (or a submodule, such as the ``omnimodel`` registration) loads no Lightning."""

from __future__ import annotations

import subprocess
import sys


def test_importing_training_and_registering_omnimodel_loads_no_lightning() -> None:
    program = (
        "import sys\n"
        "import omnimaint.training\n"
        "import omnimaint.training.methods\n"
        "print(sorted(name for name in sys.modules if name == 'lightning' or name.startswith('lightning.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout
