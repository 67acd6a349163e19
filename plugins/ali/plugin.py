"""Registers ALI."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import ModelRegistry
from genzoo_plugins.ali.model import ALI


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(ALI)
