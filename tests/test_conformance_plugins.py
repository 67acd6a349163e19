"""check_dataset on planted dataset bugs, and the plugin-level kit: check_plugin loads a plugin
through its hooks in strict mode and checks all it registers; parametrize_with_checks makes that
a plugin's whole test file."""

from __future__ import annotations

import pytest
import torch
from host_helpers import plugin_module
from test_conformance import MeanDistance, Shift

from genzoo import hookimpl
from genzoo.core.model import DataSpec
from genzoo.data.base import Dataset, Mixture
from genzoo.testing import (
    ConformanceError,
    check_dataset,
    check_plugin,
    parametrize_with_checks,
    plugin_checks,
)


class Blobs(Dataset):
    """Two Gaussian blobs in the plane with their mode labels: a well-behaved toy dataset."""

    spec = DataSpec("blobs", (2,))
    means = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])

    def draw(self, n, generator, split="train"):
        y = torch.randint(0, 2, (n,), generator=generator)
        return self.means[y] + 0.1 * torch.randn(n, 2, generator=generator), y

    def mixture(self):
        return Mixture(self.means, 0.1)


class Float64(Blobs):
    def draw(self, n, generator, split="train"):
        x, y = super().draw(n, generator, split)
        return x.double(), y


class NoModeLabels(Blobs):
    def draw(self, n, generator, split="train"):
        return super().draw(n, generator, split)[0], None


class GlobalRandom(Blobs):
    def draw(self, n, generator, split="train"):
        x, y = super().draw(n, generator, split)
        return x + 0.01 * torch.randn(n, 2), y


class FlatShape(Blobs):
    def draw(self, n, generator, split="train"):
        x, y = super().draw(n, generator, split)
        return x.reshape(-1), y


class Bright(Dataset):
    spec = DataSpec("bright", (1, 4, 4), kind="image")

    def draw(self, n, generator, split="train"):
        return torch.rand(n, 1, 4, 4, generator=generator) * 255, None  # bytes, not [0, 1]


def test_a_well_behaved_dataset_passes():
    check_dataset(Blobs())


@pytest.mark.parametrize(("dataset", "words"), [
    (Float64(), "dtype torch.float64"),
    (NoModeLabels(), "declares mixture() with 2 modes"),
    (GlobalRandom(), "global generator"),
    (FlatShape(), "expected (16, 2)"),
    (Bright(), "must be in [0, 1]"),
])
def test_check_dataset_blames_the_dataset(dataset, words):
    with pytest.raises(ConformanceError) as err:
        check_dataset(dataset)
    assert str(err.value).startswith(f"check_dataset failed for dataset '{dataset.spec.name}'")
    assert words in str(err.value)


@hookimpl
def genzoo_register_models(models):
    models.add(Shift)


@hookimpl
def genzoo_register_datasets(datasets):
    datasets.add("blobs", Blobs)


@hookimpl
def genzoo_register_evaluators(evaluators):
    evaluators.add(MeanDistance)


GOOD = plugin_module("good_plugin", genzoo_register_models=genzoo_register_models,
                     genzoo_register_datasets=genzoo_register_datasets,
                     genzoo_register_evaluators=genzoo_register_evaluators)


def test_check_plugin_runs_every_check_of_everything_it_registers():
    done = check_plugin(GOOD)
    assert "check_trains[shift]" in done and "check_resume[shift]" in done
    assert "check_dataset[blobs]" in done and "check_evaluator[mean-distance]" in done


def test_a_misspelled_hook_argument_fails_the_plugin_check_not_a_warning():
    @hookimpl
    def genzoo_register_models(model):  # the hook's argument is `models`
        model.add(Shift)

    typo = plugin_module("typo_plugin", genzoo_register_models=genzoo_register_models)
    with pytest.raises(ConformanceError, match="check_plugin failed for plugin 'typo_plugin'"):
        plugin_checks(typo)


def test_a_plugin_whose_hooks_are_not_marked_registers_nothing_and_is_told_so():
    def genzoo_register_models(models):  # no @hookimpl
        models.add(Shift)

    bare = plugin_module("bare_plugin", genzoo_register_models=genzoo_register_models)
    with pytest.raises(ConformanceError, match="registered no model, dataset or evaluator"):
        plugin_checks(bare)


@parametrize_with_checks(GOOD)
def test_a_plugins_whole_test_file(check):
    check()


class ListedDigits(Dataset):
    """A third-party image dataset that does not subclass genzoo's ImageDataset: mnist5k's
    digits behind the declared interface (draw, examples, splits)."""

    def __init__(self):
        from genzoo.core import plugins

        self.inner = plugins.registry().dataset("mnist5k")
        self.spec = DataSpec("listed-digits", self.inner.spec.x_shape, kind="image",
                             num_classes=10)
        self.splits = self.inner.splits

    def draw(self, n, generator, split="train"):
        return self.inner.draw(n, generator, split)

    def examples(self, split="train"):
        return self.inner.examples(split)


def test_an_image_dataset_of_its_own_gets_every_evaluator_that_applies():
    from genzoo.core import plugins
    from genzoo.evaluators.frechet import dataset_images
    from genzoo.evaluators.reconstruction import heldout_images
    from genzoo.training.snapshots import steps_per_epoch

    data = ListedDigits()
    check_dataset(data)
    reg = plugins.registry()
    for name in ("reconstruction", "interpolation", "class-agreement", "icp", "svm-features",
                 "fid", "kid", "classification"):
        assert reg.evaluator(name)().applies_to(data) is None, name
    assert data.size("test") == data.inner.size("test")
    assert steps_per_epoch(data, 100) == -(-data.inner.size("train") // 100)
    assert torch.equal(dataset_images(data, "test", 7), data.inner.examples("test")[0][:7])
    assert torch.equal(heldout_images(data, 5), heldout_images(data.inner, 5))
