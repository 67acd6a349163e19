"""Registers the GAN baselines."""

from genzoo.hookspecs import hookimpl
from genzoo.registry import ModelRegistry
from genzoo_plugins.gan.model import GAN


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(GAN)
