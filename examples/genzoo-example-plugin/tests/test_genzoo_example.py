"""The example plugin's own tests: genzoo's conformance kit does the heavy lifting."""

import pytest
import torch
from genzoo_example.evaluator import MeanError
from genzoo_example.model import Gaussian
from genzoo_example.plugin import blob

from genzoo import Trainer, TrainSettings
from genzoo.data.toy import grid25
from genzoo.testing import MODEL_CHECKS, check_evaluator, check_model


@pytest.mark.parametrize("check", MODEL_CHECKS)
def test_gaussian_passes_each_check(check):
    MODEL_CHECKS[check](Gaussian)


def test_gaussian_passes_on_its_own_dataset_and_preset():
    assert check_model(Gaussian, blob(), preset="quick", steps=2) == list(MODEL_CHECKS)


def test_gaussian_learns_the_mean_and_std():
    data = blob()  # one Gaussian at (1, -1), σ = 0.5: the model's own family
    model = Gaussian(Gaussian.make_config(data.spec), data.spec, [0])
    Trainer(model, data, TrainSettings(steps=300, batch_size=256)).fit()
    assert torch.allclose(model.mean.detach().reshape(2), torch.tensor([1.0, -1.0]), atol=0.05)
    assert torch.allclose(model.log_std.exp().detach().reshape(2), torch.tensor([0.5, 0.5]),
                          atol=0.05)


def test_mean_error_conforms_and_shrinks_with_training():
    data = grid25()
    model = Gaussian(Gaussian.make_config(data.spec, overrides={"init_std": 1.0}), data.spec, [3])
    model.mean.data += 2.0  # start far from the data's mean, (0, 0)
    before = check_evaluator(MeanError, model, data).metrics["mean_error"][0]
    Trainer(model, data, TrainSettings(steps=200, batch_size=256)).fit()
    after = check_evaluator(MeanError, model, data).metrics["mean_error"][0]
    assert before > 2.0 and after < 0.3
