"""automl: tabular AutoML from the command line, with versioned, reproducible artifacts."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
