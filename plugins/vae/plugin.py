"""Registers the VAE."""

from genzoo.hookspecs import hookimpl
from genzoo.registry import ModelRegistry
from genzoo_plugins.vae.model import VAE


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(VAE)
