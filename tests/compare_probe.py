"""Run by tests/test_compare_ranks.py, under torchrun or alone: the CLI with two more models.

- ``vae-stacked``: the VAE, not vectorized, so every seed trains alone (R = 1) however the
  seeds are shared out: its numbers must come out identical with and without torchrun;
- ``fails-on-seed-1``: the GAN, failing at step 3 of the block that holds seed 1 (with a
  GenzooError, or by ``os._exit`` when PROBE_CRASH is set).

Usage: ``compare_probe.py ARGS...`` runs ``genzoo ARGS...``.
"""

from __future__ import annotations

import os
import sys
import types

from genzoo import cli
from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.core.hookspecs import hookimpl
from genzoo_plugins.gan.model import GAN
from genzoo_plugins.vae.model import VAE


class StackedVAE(VAE):
    name = "vae-stacked"
    vectorized = False


class FailsOnSeed1(GAN):
    name = "fails-on-seed-1"

    def train_step(self, batch, step, total_steps):
        if 1 in self.seeds and step == 3:
            if os.environ.get("PROBE_CRASH"):
                os._exit(7)
            raise GenzooError("the probe fails here on purpose")
        return super().train_step(batch, step, total_steps)


@hookimpl
def genzoo_register_models(models) -> None:
    models.add(StackedVAE)
    models.add(FailsOnSeed1)


probe = types.ModuleType("compare_probe_plugin")
probe.genzoo_register_models = genzoo_register_models
plugins._registry = plugins.build_registry(extra_plugins=[("probe", probe)])
cli.main(sys.argv[1:])
