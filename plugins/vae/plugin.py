"""Registers the VAE."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import ModelRegistry
from genzoo_plugins.vae.model import VAE


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(VAE)
