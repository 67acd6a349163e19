"""Registers ALICE."""

from genzoo.hookspecs import hookimpl
from genzoo.registry import ModelRegistry
from genzoo_plugins.alice.model import ALICE


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(ALICE)
