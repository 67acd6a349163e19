"""Semi-supervised ALI (§4.3): the K+1-class losses, the labelled subset, the test error,
and resume."""

from __future__ import annotations

import copy
import json
import math
import pickle
from pathlib import Path

import pytest
import torch
from host_helpers import set_args

from genzoo import api
from genzoo.cli import main
from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.data.labelled import LabelledSubset, balanced_subset
from genzoo.training.runs import Run
from genzoo.training.trainer import TrainSettings
from genzoo_plugins.common import k_plus_one

TINY = {"image_width": 4, "z_dim": 4, "labels": 20}


@pytest.fixture(scope="module")
def digits():
    return plugins.registry().dataset("digits")


# --- the losses on logits chosen by hand ------------------------------------------------------

def test_k_plus_one_losses_equal_the_formulas() -> None:
    # K = 2; rows: unlabelled encoder pair, labelled encoder pair (label 1), two decoder pairs
    logits = torch.tensor([[[1.0, 2.0, 0.5], [0.0, 3.0, 1.0],
                            [-1.0, 0.0, 2.0], [0.5, 0.5, 0.0]]])
    labels = torch.tensor([[1]])
    p = logits.softmax(-1)[0]  # p[i, k]; class K+1 is the last column
    expected_d = (-math.log(1 - p[0, 2])                      # unlabelled: any of the K
                  + 0.5 * (-math.log(p[2, 2]) - math.log(p[3, 2]))  # decoder pairs: K+1
                  - math.log(p[1, 1]))                         # labelled: its label
    expected_g = (-math.log(p[0, 2])                          # encoder pairs -> K+1
                  + 0.5 * (-math.log(1 - p[2, 2]) - math.log(1 - p[3, 2])))
    d = k_plus_one.d_loss(logits, 2, labels)
    g = k_plus_one.g_loss(logits, 2, 1, "nonsaturating")
    assert d.shape == g.shape == (1,)
    assert d.item() == pytest.approx(expected_d, rel=1e-5)
    assert g.item() == pytest.approx(expected_g, rel=1e-5)
    # saturating: minus D's unlabelled part
    sat = k_plus_one.g_loss(logits, 2, 1, "saturating")
    assert sat.item() == pytest.approx(-(expected_d + math.log(p[1, 1])), rel=1e-5)
    # the binary logit is log p(k <= K) - log p(K+1)
    b = k_plus_one.binary_logit(logits)[0, 0]
    assert b.item() == pytest.approx(math.log((1 - p[0, 2]) / p[0, 2]), rel=1e-5)


# --- the labelled subset ----------------------------------------------------------------------

def test_labelled_subset_is_class_balanced_and_fixed_by_the_seed() -> None:
    labels = torch.arange(3).repeat(20)  # 20 of each of 3 classes
    a = balanced_subset(labels, 12, 3, seed=0)
    assert torch.bincount(labels[a], minlength=3).tolist() == [4, 4, 4]
    assert len(set(a.tolist())) == 12
    assert torch.equal(a, balanced_subset(labels, 12, 3, seed=0))
    assert not torch.equal(a, balanced_subset(labels, 12, 3, seed=1))
    with pytest.raises(GenzooError, match="multiple of the 3 classes"):
        balanced_subset(labels, 10, 3, seed=0)
    with pytest.raises(GenzooError, match="needs 21 examples of class 0"):
        balanced_subset(labels, 63, 3, seed=0)


def test_labelled_draws_are_unlabelled_then_labelled(digits) -> None:
    data = LabelledSubset(digits, 20, seed=0)
    x_all, y_all = digits.examples("train")
    x, y = data.draw(8, torch.Generator().manual_seed(1))
    assert x.shape == (16, 1, 8, 8)
    assert (y[:8] == -1).all() and (y[8:] >= 0).all()
    # the labelled half comes from the subset, with its true labels
    subset = (x_all[data.index].float() / 255).flatten(1)
    for xi, yi in zip(x[8:], y[8:], strict=True):
        match = (subset - xi.flatten()).abs().sum(1).argmin()
        assert (subset[match] - xi.flatten()).abs().max() < 1e-6
        assert y_all[data.index[match]] == yi
    # the same generator state gives the same batch; the test split is the base's
    again = data.draw(8, torch.Generator().manual_seed(1))
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
    assert data.draw(4, torch.Generator(), split="test")[0].shape == (4, 1, 8, 8)


# --- the model --------------------------------------------------------------------------------

def test_semi_supervised_ali_classifies_and_refuses_what_it_cannot_do(digits) -> None:
    reg = plugins.registry()
    model = api.build_model(reg, "ali", digits, overrides=TINY, seeds=[0, 1])
    assert model.can("classify")
    assert model.classify(torch.rand(2, 5, 1, 8, 8)).shape == (2, 5, 10)
    plain = api.build_model(reg, "ali", digits, overrides={"image_width": 4, "z_dim": 4})
    assert not plain.can("classify")
    with pytest.raises(GenzooError, match="--labels"):
        plain.classify(torch.rand(1, 2, 1, 8, 8))
    with pytest.raises(GenzooError, match="class labels"):
        api.build_model(reg, "ali", reg.dataset("grid25"), overrides={"labels": 20})
    with pytest.raises(GenzooError, match="not conditional"):
        api.build_model(reg, "ali", digits, overrides={**TINY, "condition": "labels"})


def test_models_built_on_ali_are_semi_supervised_the_same_way(digits) -> None:
    from genzoo_plugins.ali.variants import SemiSupervisedALI
    from genzoo_plugins.bigan.model import BiGAN

    reg = plugins.registry()
    model = api.build_model(reg, "bigan", digits, overrides=TINY)
    assert isinstance(model, BiGAN) and isinstance(model, SemiSupervisedALI)
    assert model.name == "bigan" and model.encoder.kind == "deterministic"
    assert model.classify(torch.rand(1, 3, 1, 8, 8)).shape == (1, 3, 10)
    assert type(model) is type(api.build_model(reg, "bigan", digits, overrides=TINY))
    for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(copied) is type(model)
        assert torch.equal(copied.classify(x := torch.rand(1, 3, 1, 8, 8)), model.classify(x))
    with pytest.raises(GenzooError, match="alice is unsupervised"):
        api.build_model(reg, "alice", digits, overrides=TINY)


def test_cli_semi_supervised_run_reports_its_test_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["train", "ali", "--dataset", "digits", "--labels", "20", "--steps", "3",
              "--batch-size", "8", "--out", str(out), "--no-progress",
              *set_args({"image_width": 4, "z_dim": 4})])
    assert exited.value.code == 0
    stdout = capsys.readouterr().out
    assert "test error" in stdout
    results = json.loads((out / "results.json").read_text())
    err = results["evaluators"]["classification"]["metrics"]["test_error"]["mean"]
    assert 0.0 <= err <= 1.0
    assert f"{100 * err:.2f}%" in stdout
    assert json.loads((out / "config.json").read_text())["model_config"]["labels"] == 20


def test_cli_labels_must_be_class_balanced(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["train", "ali", "--dataset", "digits", "--labels", "15", "--steps", "1",
              "--out", str(tmp_path / "r"), "--no-progress"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "multiple of the 10 classes" in err and len(err.strip().splitlines()) == 1


def test_semi_supervised_resume_is_bit_identical(tmp_path: Path, digits) -> None:
    reg = plugins.registry()

    def start(out: Path) -> api.Session:
        return api.start(reg, "ali", "digits", out=out, overrides=TINY, seeds=[0], device="cpu",
                         dataset=digits,
                         settings=TrainSettings(steps=4, batch_size=8, log_every=1,
                                                checkpoint_every=2, keep_checkpoints=0))

    whole = start(tmp_path / "whole")
    whole.trainer.fit()
    broken = start(tmp_path / "broken")
    step_fn = broken.model.train_step

    def stop_at_three(batch, step, total):
        if step == 3:
            raise KeyboardInterrupt
        return step_fn(batch, step, total)

    broken.model.train_step = stop_at_three
    with pytest.raises(KeyboardInterrupt):
        broken.trainer.fit()
    resumed = api.open_run(reg, tmp_path / "broken", device="cpu")
    assert resumed.trainer.step == 2
    resumed.trainer.fit()
    a = Run.open(tmp_path / "whole").load_checkpoint()
    b = Run.open(tmp_path / "broken").load_checkpoint()
    assert a.step == b.step == 4 and a.tensors.keys() == b.tensors.keys()
    for key in a.tensors:
        assert a.tensors[key].equal(b.tensors[key]), key
