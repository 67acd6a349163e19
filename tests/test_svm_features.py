"""The L2-SVM feature protocol: the batched solver against sklearn's LinearSVC, the C grid,
class-balanced draws, the splits, the protocol's selection of C, the `svm-features` evaluator
on a tiny model over real digits, its refusals, and the CLI's --labels/--draws."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from host_helpers import run_cli, use_registry
from sklearn.svm import LinearSVC
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.hookspecs import hookimpl
from genzoo.core.model import Batch, DataSpec, Model
from genzoo.data.packaged import digits
from genzoo.data.toy import grid25
from genzoo.evaluators.linear_svm import c_grid, decision_weights, fit_ovr, kkt_violation
from genzoo.evaluators.svm_features import (
    SVMFeatures,
    draw_labelled,
    pixel_protocol,
    protocol_draws,
    protocol_splits,
    svm_protocol,
)
from genzoo.testing import check_evaluator

# --- the solver against sklearn -----------------------------------------------------------------


def blobs(n: int, d: int, k: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    return rng.normal(size=(k, d))[y] * spread + rng.normal(size=(n, d)), y


def ours(x: np.ndarray, y: np.ndarray, k: int, log_c: Sequence[float],
         intercept_scaling: float = 1.0) -> tuple[np.ndarray, torch.Tensor]:
    """Decision values (len(log_c), n, k) on the training points, and the fit's KKT."""
    xt = torch.from_numpy(x)
    fit = fit_ovr(xt @ xt.T, torch.from_numpy(y), k, torch.tensor(log_c).exp(),
                  intercept_scaling=intercept_scaling)
    w, b = decision_weights(xt, fit)
    return (xt @ w + b).reshape(len(x), len(log_c), k).permute(1, 0, 2).numpy(), fit.kkt


def sklearn_decisions(x: np.ndarray, y: np.ndarray, c: float, *, dual: bool,
                      intercept_scaling: float = 1.0) -> tuple[np.ndarray, LinearSVC]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's ConvergenceWarning at huge C
        model = LinearSVC(C=c, tol=1e-10 if dual else 1e-12, max_iter=200_000, dual=dual,
                          intercept_scaling=intercept_scaling).fit(x, y)
    return model.decision_function(x), model


def objective(x: np.ndarray, y: np.ndarray, k: int, c: float, dec: np.ndarray,
              w: np.ndarray, b: np.ndarray) -> np.ndarray:
    signs = np.where(y[:, None] == np.arange(k), 1.0, -1.0)
    return 0.5 * ((w * w).sum(0) + b * b) + c * np.square(np.maximum(0, 1 - signs * dec)).sum(0)


LOG_C = [-20.0, -6.0, -1.0, 0.0, 2.0, 8.0, 20.0]


def test_solver_matches_sklearn_on_separable_data() -> None:
    """More dimensions than points: separable, and at C = e^20 a hard-margin problem."""
    x, y = blobs(60, 200, 3, 1.0, seed=0)
    dec, kkt = ours(x, y, 3, LOG_C)
    assert bool((kkt <= 1e-7).all())
    for j, log_c in enumerate(LOG_C):
        ref, _ = sklearn_decisions(x, y, math.exp(log_c), dual=True)
        assert np.abs(dec[j] - ref).max() <= 1e-6 * np.abs(ref).max(), log_c
        assert (dec[j].argmax(1) == ref.argmax(1)).all()


@pytest.mark.parametrize("shape", [(200, 20, 4, 0.5), (240, 10, 3, 0.2)])
def test_solver_matches_sklearn_on_overlapping_classes(shape) -> None:
    """More points than dimensions, classes overlapping: sklearn's primal (TRON) solver is the
    reference there (its dual coordinate descent does not converge at large C). Same
    predictions, decision values within 1e-6 (1e-4 at C = e^20, where K~ + I/2C is nearly
    singular in float64) and the same objective value to 1e-8."""
    n, d, k, spread = shape
    x, y = blobs(n, d, k, spread, seed=1)
    dec, _ = ours(x, y, k, LOG_C)
    xt = torch.from_numpy(x)
    for j, log_c in enumerate(LOG_C):
        c = math.exp(log_c)
        ref, model = sklearn_decisions(x, y, c, dual=False)
        tol = 1e-4 if log_c > 10 else 1e-6
        assert np.abs(dec[j] - ref).max() <= tol * np.abs(ref).max(), log_c
        assert (dec[j].argmax(1) == ref.argmax(1)).all(), log_c
        fit = fit_ovr(xt @ xt.T, torch.from_numpy(y), k, torch.tensor([c]))
        w, b = decision_weights(xt, fit)
        mine = objective(x, y, k, c, dec[j], w.numpy(), b.numpy())
        theirs = objective(x, y, k, c, ref, model.coef_.T, model.intercept_)
        assert mine == pytest.approx(theirs, rel=1e-8)
        if log_c <= 10:  # never worse than sklearn's optimum where float64 can tell
            assert (mine <= theirs * (1 + 1e-12)).all()


def test_intercept_scaling_matches_sklearn() -> None:
    """liblinear penalises the intercept through a constant feature s: b = s^2 sum(alpha)."""
    x, y = blobs(50, 80, 3, 0.7, seed=2)
    dec, _ = ours(x, y, 3, [0.0], intercept_scaling=10.0)
    ref, _ = sklearn_decisions(x, y, 1.0, dual=True, intercept_scaling=10.0)
    assert np.abs(dec[0] - ref).max() <= 1e-8 * np.abs(ref).max()
    plain, _ = ours(x, y, 3, [0.0])
    assert np.abs(plain[0] - dec[0]).max() > 1e-3  # the penalty on b does change the fit


def test_line_search_fallback_reaches_the_same_solution() -> None:
    """The monotone finite Newton method alone (no active-set steps) gives the same fit."""
    x, y = blobs(120, 30, 3, 0.5, seed=5)
    xt = torch.from_numpy(x)
    cs = torch.tensor([-4.0, 0.0, 3.0]).exp()
    fast = fit_ovr(xt @ xt.T, torch.from_numpy(y), 3, cs, warm_start=False)
    slow = fit_ovr(xt @ xt.T, torch.from_numpy(y), 3, cs, warm_start=False, pdas_steps=0)
    assert float(fast.kkt.max()) < 1e-6 and float(slow.kkt.max()) < 1e-6
    assert torch.allclose(slow.alpha, fast.alpha, rtol=1e-5, atol=1e-8 * fast.alpha.abs().max())


def test_kkt_certifies_the_solution_and_catches_a_wrong_one() -> None:
    x, y = blobs(80, 30, 4, 0.6, seed=3)
    xt = torch.from_numpy(x)
    gram = xt @ xt.T + 1.0
    fit = fit_ovr(xt @ xt.T, torch.from_numpy(y), 4, torch.tensor([1.0]))
    signs = torch.where(torch.from_numpy(y) == torch.arange(4).unsqueeze(1), 1.0, -1.0)
    alpha = fit.alpha[0]
    assert float(kkt_violation(alpha, alpha @ gram, signs.double(), 0.5).max()) <= 1e-7
    wrong = alpha * 1.01
    assert float(kkt_violation(wrong, wrong @ gram, signs.double(), 0.5).min()) > 1e-4
    assert fit.converged.all()


def test_c_grid_is_the_original_codes() -> None:
    """numpy.exp(numpy.linspace(-20, 20, 50)): natural log, ascending."""
    cs = c_grid()
    assert cs.dtype == torch.float64 and cs.shape == (50,)
    assert np.allclose(cs.numpy(), np.exp(np.linspace(-20, 20, 50)), rtol=1e-14)
    assert bool((cs[1:] > cs[:-1]).all())


# --- draws, splits and the protocol ------------------------------------------------------------

def test_balanced_draws() -> None:
    labels = torch.cat([torch.full((n,), k) for k, n in enumerate([150, 400, 101, 1000, 120,
                                                                      300, 250, 100, 180, 500])])
    g = torch.Generator().manual_seed(0)
    idx = draw_labelled(labels, 1000, 10, g)
    assert len(idx) == 1000 and len(idx.unique()) == 1000
    assert torch.bincount(labels[idx], minlength=10).tolist() == [100] * 10
    odd = draw_labelled(labels, 1005, 10, g)
    assert sorted(torch.bincount(labels[odd], minlength=10).tolist()) == [100] * 5 + [101] * 5
    again = protocol_draws(labels, labels=1000, draws=3, num_classes=10, seed=7)
    assert len(again) == 4  # select=once: one more draw chooses C
    same = protocol_draws(labels, labels=1000, draws=3, num_classes=10, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(again, same, strict=True))
    other = protocol_draws(labels, labels=1000, draws=3, num_classes=10, seed=8)
    assert not torch.equal(again[0], other[0])
    assert not torch.equal(again[0], again[1])
    with pytest.raises(GenzooError, match="class 7 has 100 examples .* fewer than the 101"):
        draw_labelled(labels, 1010, 10, g)
    uniform = draw_labelled(labels, 1000, 10, g, balanced=False)
    assert len(uniform.unique()) == 1000
    assert torch.bincount(labels[uniform], minlength=10).tolist() != [100] * 10


def test_splits_svhn_and_generic() -> None:
    svhn_labels = torch.arange(73_257) % 10
    pool, val = protocol_splits("svhn", svhn_labels)
    assert torch.equal(pool, torch.arange(63_257))
    assert torch.equal(val, torch.arange(63_257, 73_257))
    labels = torch.tensor([0] * 30 + [1] * 10 + [0] * 10)  # class 0: 40, class 1: 10
    pool, val = protocol_splits("mnist5k", labels)
    # the last 10 % of each class in source order: 4 of class 0 (its last four), 1 of class 1
    assert val.tolist() == [39, 46, 47, 48, 49]
    assert sorted(pool.tolist() + val.tolist()) == list(range(50))


def structured(n: int, d: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class means fixed across calls (pool, validation and test share them), noise by seed."""
    means = np.random.default_rng(99).normal(size=(k, d)) * 0.5
    y = np.arange(n) % k
    x = means[y] + np.random.default_rng(seed).normal(size=(n, d))
    return torch.from_numpy(x).float(), torch.from_numpy(y)


def test_protocol_selects_c_on_validation_and_reports_every_draw() -> None:
    px, py = structured(600, 40, 4, seed=4)
    vx, vy = structured(200, 40, 4, seed=5)
    tx, ty = structured(300, 40, 4, seed=6)
    res = svm_protocol(px, py, vx, vy, tx, ty, num_classes=4, labels=40, num_draws=6,
                       cs=torch.tensor([-8.0, -2.0, 0.0, 3.0]).exp())
    best = int(np.argmin(res.val_curve))
    assert (res.val_curve[:best] > res.val_curve[best]).all()  # the first minimum
    assert np.allclose(res.log_c, [-8.0, -2.0, 0.0, 3.0][best])
    assert len(res.test_errors) == 6 and res.error == pytest.approx(res.test_errors.mean())
    assert res.error_std == pytest.approx(res.test_errors.std(ddof=0))
    assert 0.0 <= res.error < 0.5 and res.error_std > 0  # well above chance, draws differ
    per = svm_protocol(px, py, vx, vy, tx, ty, num_classes=4, labels=40, num_draws=3,
                       select="per-draw", cs=torch.tensor([-8.0, -2.0, 0.0, 3.0]).exp())
    assert len(per.test_errors) == 3 and len(per.log_c) == 3
    with pytest.raises(GenzooError, match="select='sometimes'"):
        svm_protocol(px, py, vx, vy, tx, ty, num_classes=4, select="sometimes")


# --- the evaluator ------------------------------------------------------------------------------

@dataclass
class NoConfig:
    pass


class PixelFeatures(Model):
    """Features = the flattened image (every replica alike): what the pixel baseline sees."""

    name = "pixel-features"
    Config = NoConfig
    capabilities = frozenset({"features"})
    vectorized = True

    def __init__(self, config: NoConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        self.scale = nn.Parameter(torch.ones(()))
        self.opt = torch.optim.SGD([self.scale], lr=0.0)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"sgd": self.opt}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        return {"loss": torch.zeros(self.replicas)}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2) * self.scale


class BlindFeatures(PixelFeatures):
    """Features that ignore the image: a linear SVM on them is at chance."""

    name = "blind-features"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.rand(*x.shape[:2], 16)


class NoFeatures(PixelFeatures):
    name = "no-features"
    capabilities = frozenset({"sample"})

    def sample(self, n, rng=None):
        return torch.zeros(self.replicas, n, *self.data.x_shape)


@pytest.fixture(scope="module")
def data():
    return digits()  # 8x8 digits: about 1,300 pool / 140 validation / 360 test


SMALL = {"labels": 100, "draws": 4}


def test_evaluator_on_pixels_gives_a_sensible_error(data, tmp_path: Path) -> None:
    model = PixelFeatures(NoConfig(), data.spec, [0, 1])
    res = SVMFeatures(**SMALL).evaluate(model, data, out_dir=tmp_path)
    assert set(res.metrics) == set(SVMFeatures.metrics)
    errors = res.metrics["error"]
    assert len(errors) == 2 and errors[0] == errors[1]  # same features, same draws
    assert 0.02 < errors[0] < 0.3  # 10 labels per class of 8x8 digits: well above chance
    assert res.metrics["error_std"][0] > 0
    saved = json.loads(Path(res.artifacts["svm-features"]).read_text())
    assert saved["protocol"]["labels"] == 100 and saved["protocol"]["draws"] == 4
    assert len(saved["seeds"]["0"]["test_errors"]) == 4
    assert saved["seeds"]["0"]["error"] == pytest.approx(errors[0])
    # the raw-pixel baseline scores the same draws: the same numbers
    assert pixel_protocol(data, **SMALL).error == pytest.approx(errors[0])
    baseline = SVMFeatures(**SMALL, features="pixels").evaluate(
        NoFeatures(NoConfig(), data.spec, [0]), data)
    assert baseline.metrics["error"] == pytest.approx([errors[0]])


def test_features_that_ignore_the_image_are_at_chance(data) -> None:
    res = SVMFeatures(**SMALL).evaluate(BlindFeatures(NoConfig(), data.spec, [0]), data)
    assert res.metrics["error"][0] > 0.75  # 10 classes: chance is 0.9


def test_refusals_are_one_line(data) -> None:
    ev = SVMFeatures()
    reason = ev.missing(NoFeatures(NoConfig(), data.spec, [0]), data)
    assert reason == "svm-features needs a model that can give features; no-features cannot"
    toy = grid25()
    assert "image datasets with class labels" in ev.applies_to(toy)
    with pytest.raises(GenzooError, match="needs a model that can give features"):
        ev.evaluate(NoFeatures(NoConfig(), data.spec, [0]), data)
    with pytest.raises(GenzooError, match="labels=100000 must be between 1 and the pool"):
        SVMFeatures(labels=100_000, draws=1).evaluate(PixelFeatures(NoConfig(), data.spec),
                                                      data)
    with pytest.raises(GenzooError, match="balanced='maybe'"):
        SVMFeatures(balanced="maybe").evaluate(PixelFeatures(NoConfig(), data.spec), data)


def test_conforms(data) -> None:
    result = check_evaluator(SVMFeatures, PixelFeatures(NoConfig(), data.spec, [0, 1]), data,
                             options={"labels": 50, "draws": 2})
    assert len(result.metrics["error"]) == 2


# --- the CLI ------------------------------------------------------------------------------------

class FeaturesPlugin:
    @staticmethod
    @hookimpl
    def genzoo_register_models(models) -> None:
        models.add(PixelFeatures)
        models.add(NoFeatures)


@pytest.fixture
def registry(monkeypatch):
    reg = use_registry(monkeypatch, [("svm-test-models", FeaturesPlugin)])
    return reg


def test_cli_passes_labels_and_draws(registry, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert run_cli(["train", "pixel-features", "--dataset", "digits", "--steps", "1",
                    "--out", str(run), "--no-progress"]) == 0
    assert run_cli(["evaluate", str(run), "--metric", "svm-features", "--labels", "50",
                    "--draws", "3", "--eval-option", "select=per-draw"]) == 0
    assert "svm-features" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())["evaluators"]["svm-features"]
    assert set(results["metrics"]) == set(SVMFeatures.metrics)
    saved = json.loads((run / "svm-features.json").read_text())
    assert saved["protocol"]["labels"] == 50 and saved["protocol"]["select"] == "per-draw"
    assert len(saved["seeds"]["0"]["test_errors"]) == 3

    other = tmp_path / "other"
    assert run_cli(["train", "no-features", "--dataset", "digits", "--steps", "1", "--out",
                    str(other), "--no-progress"]) == 0
    capsys.readouterr()
    assert run_cli(["evaluate", str(other), "--metric", "svm-features"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "svm-features needs a model that can give features" in err
