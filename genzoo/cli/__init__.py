"""The genzoo command line (genzoo/cli/app.py)."""

from genzoo.cli.app import app, main

__all__ = ["app", "main"]
