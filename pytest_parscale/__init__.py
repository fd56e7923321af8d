"""pytest-parscale: parallel-performance regression testing for pytest."""

from __future__ import annotations

from pytest_parscale.errors import ParscaleError, ParscaleWarning

__version__ = "0.1.0"

__all__ = ["ParscaleError", "ParscaleWarning", "__version__"]
