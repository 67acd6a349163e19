"""The hook implementations genzoo calls: this module is the entry point's target."""

from __future__ import annotations

import torch

from genzoo import DatasetRegistry, EvaluatorRegistry, ModelRegistry, hookimpl
from genzoo.data.toy import GaussianMixture
from genzoo_example.evaluator import MeanError
from genzoo_example.model import Gaussian


@hookimpl
def genzoo_register_models(models: ModelRegistry) -> None:
    models.add(Gaussian)


@hookimpl
def genzoo_register_evaluators(evaluators: EvaluatorRegistry) -> None:
    evaluators.add(MeanError)


def blob() -> GaussianMixture:
    """One Gaussian at (1, -1) with σ = 0.5."""
    return GaussianMixture("blob", torch.tensor([[1.0, -1.0]]), std=0.5)


@hookimpl
def genzoo_register_datasets(datasets: DatasetRegistry) -> None:
    datasets.add("blob", lambda **options: blob())
