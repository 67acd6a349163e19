"""Registers BiGAN and BigBiGAN."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import ModelRegistry
from genzoo_plugins.bigan.model import BiGAN, BigBiGAN


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(BiGAN)
    models.add(BigBiGAN)
