"""``python -m omnimaint``: the same command line as the ``omnimaint`` script."""

from omnimaint.cli import main

main()
