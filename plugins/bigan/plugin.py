"""Registers BiGAN."""

from genzoo.hookspecs import hookimpl
from genzoo.registry import ModelRegistry
from genzoo_plugins.bigan.model import BiGAN


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(BiGAN)
