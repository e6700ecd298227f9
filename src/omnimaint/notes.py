"""The ``NOTE`` log level: what a user should know about a choice made for them, shown by default.

A window proposed from the data, or a subset picked among several, is neither a problem (a warning) nor a
progress detail (``INFO``, shown with ``-v``). Library code logs it at :data:`NOTE`; the command line
prints it by default as ``note: <message>`` on stderr.
"""

from __future__ import annotations

import logging

NOTE = 25  # between INFO (20) and WARNING (30)
logging.addLevelName(NOTE, "NOTE")

__all__ = ["NOTE"]
