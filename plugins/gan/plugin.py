"""Registers the GAN baselines: plain GAN, learned inverse mapping, post-hoc inference."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import ModelRegistry
from genzoo_plugins.gan.inverse import GANInverse
from genzoo_plugins.gan.model import GAN
from genzoo_plugins.gan.posthoc import GANPosthoc


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(GAN)
    models.add(GANInverse)
    models.add(GANPosthoc)
