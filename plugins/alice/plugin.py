"""Registers ALICE."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import ModelRegistry
from genzoo_plugins.alice.model import ALICE


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(ALICE)
