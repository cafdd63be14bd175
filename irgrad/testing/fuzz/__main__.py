"""Entry point of ``python -m irgrad.testing.fuzz`` (see ``cli.py``)."""

from .cli import main

main()
