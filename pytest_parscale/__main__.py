"""``python -m pytest_parscale``: the ``parscale`` command."""

from __future__ import annotations

import sys

from pytest_parscale.cli import main

if __name__ == "__main__":
    sys.exit(main())
