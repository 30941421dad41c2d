"""``python -m automl_cli`` and the ``automl`` console script."""

from __future__ import annotations

from automl_cli.cli.app import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
