"""The genzoo command line: parses, calls genzoo.api, renders with rich. Nothing else.

``app`` holds the shared pieces (the typer app, one-line errors, ``main``, ``plugins``); each
other command lives in the module named for it, and is registered here in ``--help`` order.
"""

from genzoo.cli import compare, runs, train
from genzoo.cli.app import app, main

app.command("train")(train.train)
app.command("sample")(runs.sample)
app.command("evaluate")(runs.evaluate)
app.command("compare")(compare.compare)
app.command("fid")(runs.fid_cmd)

__all__ = ["app", "main"]
