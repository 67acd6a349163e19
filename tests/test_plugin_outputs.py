"""What genzoo receives from a plugin is checked, and a wrong one is blamed on its owner: an
evaluator's non-finite metric is null in results.json (valid JSON, parsed strictly) with the
count of seeds it hit, an exception in an evaluator's code is one line naming the evaluator
and its plugin, a result of the wrong form is refused."""

from __future__ import annotations

import json
import math

import pytest
from host_helpers import plugin_module, run_cli, set_args, small_overrides, use_registry

from genzoo import api, hookimpl
from genzoo.core import plugins
from genzoo.core.errors import PluginError
from genzoo.evaluators.base import EvalResult, Evaluator


class Diverges(Evaluator):
    """One seed's value is infinite, another's NaN."""

    name = "diverges"
    metrics = ("score",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"score": [math.inf, math.nan, 1.0][: model.replicas]})


class Crashes(Evaluator):
    name = "crashes"
    metrics = ("score",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"score": [1.0 / 0 for _ in range(model.replicas)]})


class OneForAll(Evaluator):
    name = "one-for-all"
    metrics = ("score",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"score": 0.5})  # one number, not one per seed


@hookimpl
def genzoo_register_evaluators(evaluators):
    for cls in (Diverges, Crashes, OneForAll):
        evaluators.add(cls)


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def run(tmp_path, monkeypatch):
    use_registry(monkeypatch, [("outs", plugin_module("outs", genzoo_register_evaluators=
                                                      genzoo_register_evaluators))])
    cls = plugins.registry().model("gan")
    out = tmp_path / "gan"
    assert run_cli(["train", "gan", "--toy", "grid25", "--steps", "5", "--seeds", "3",
                    "--out", str(out), "--no-progress", *set_args(small_overrides(cls))]) == 0
    return out


def test_a_non_finite_metric_is_null_in_valid_json_and_said_on_screen(run, capsys):
    assert run_cli(["evaluate", str(run), "--metric", "diverges"]) == 0
    entry = _strict((run / "results.json").read_text())["evaluators"]["diverges"]
    assert entry["metrics"]["score"] == {"mean": None, "std": None, "not_finite": 2,
                                         "values": [None, None, 1.0]}
    assert "not finite (2 of 3 seeds)" in capsys.readouterr().out


def test_an_exception_in_an_evaluator_is_one_line_naming_it_and_its_plugin(run, capsys):
    assert run_cli(["evaluate", str(run), "--metric", "crashes"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "evaluator 'crashes' of plugin 'outs'" in err and "ZeroDivisionError" in err
    assert "internal error" not in err
    with pytest.raises(PluginError, match="failed in evaluate"):
        reg = plugins.registry()
        api.evaluate(reg, api.open_run(reg, run), ["crashes"])


def test_a_result_of_the_wrong_form_is_refused_naming_the_evaluator(run, capsys):
    assert run_cli(["evaluate", str(run), "--metric", "one-for-all"]) == 2
    err = capsys.readouterr().err
    assert "evaluator 'one-for-all' of plugin 'outs'" in err
    assert "expected a list of 3 numbers, one per seed" in err


def _bad_gan():
    gan = plugins.registry().model("gan")

    class OneCoordinate(gan):
        """A GAN whose sample() drops the data's second coordinate."""

        name = "one-coordinate"

        def sample(self, n, rng=None):
            return super().sample(n, rng)[..., :1]

    return OneCoordinate


def test_samples_of_the_wrong_shape_are_refused_naming_the_model_and_plugin(tmp_path, monkeypatch,
                                                                            capsys):
    bad = _bad_gan()

    @hookimpl
    def genzoo_register_models(models):
        models.add(bad)

    use_registry(monkeypatch, [("shapes", plugin_module("shapes", genzoo_register_models=
                                                        genzoo_register_models))])
    run = tmp_path / "bad"
    assert run_cli(["train", "one-coordinate", "--toy", "grid25", "--steps", "3", "--out",
                    str(run), "--no-progress", "--no-tensorboard",
                    *set_args(small_overrides(bad))]) == 0
    capsys.readouterr()
    out = tmp_path / "s.npy"
    assert run_cli(["sample", str(run), "-n", "10", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "model 'one-coordinate' of plugin 'shapes'" in err and "(1, 10, 2)" in err
    assert not out.exists() and not list(tmp_path.glob(".s.npy.*"))  # no partial file left


def test_sample_draws_and_writes_in_chunks_and_checks_the_disk(run, tmp_path, monkeypatch, capsys):
    import numpy as np

    from genzoo.cli import runs

    out = tmp_path / "many.npy"
    whole = tmp_path / "whole.npy"
    assert run_cli(["sample", str(run), "-n", "25", "-o", str(whole)]) == 0
    monkeypatch.setattr(runs, "SAMPLE_CHUNK", 7)
    assert run_cli(["sample", str(run), "-n", "25", "-o", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (25, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert not np.array_equal(x, np.load(whole))  # 4 model calls drew other noise than one
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 100, 100))
    capsys.readouterr()
    assert run_cli(["sample", str(run), "-n", "1000000000", "-o", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "7.5 GiB" in err and "ask for fewer samples" in err


def test_a_third_party_mixture_gets_the_vae_finding(tmp_path, monkeypatch):
    from test_conformance_plugins import Blobs

    @hookimpl
    def genzoo_register_datasets(datasets):
        datasets.add("blobs", Blobs)

    use_registry(monkeypatch, [("blobs", plugin_module("blobs", genzoo_register_datasets=
                                                       genzoo_register_datasets))])
    vae = plugins.registry().model("vae")
    out = tmp_path / "cmp"
    args = ["compare", "vae", "--dataset", "blobs", "--steps", "5", "--seeds", "2",
            "--metric", "mode-coverage", "--out", str(out), "--no-progress"]
    args += [a for k, v in small_overrides(vae).items() for a in ("--set", f"vae.{k}={v}")]
    assert run_cli(args) == 0
    found = {f["claim"]: f for f in json.loads((out / "results.json").read_text())["findings"]}
    smears = found["the VAE covers the modes but smears mass between them"]
    assert smears["verdict"] != "not measured" and "of 2 modes" in smears["evidence"]


def test_compare_on_toy_data_without_modes_runs_the_metrics_that_need_none(tmp_path,
                                                                           monkeypatch, capsys):
    from test_conformance import MeanDistance
    from test_conformance_plugins import Blobs

    class Plain(Blobs):
        """Blobs that declare no mixture: no mode metric applies."""

        def mixture(self):
            return None

        def draw(self, n, generator, split="train"):
            return super().draw(n, generator, split)[0], None

    @hookimpl
    def genzoo_register_datasets(datasets):
        datasets.add("plain", Plain)

    @hookimpl
    def genzoo_register_evaluators(evaluators):
        evaluators.add(MeanDistance)

    use_registry(monkeypatch, [("plain", plugin_module(
        "plain", genzoo_register_datasets=genzoo_register_datasets,
        genzoo_register_evaluators=genzoo_register_evaluators))])
    gan = plugins.registry().model("gan")
    sets = [a for k, v in small_overrides(gan).items() for a in ("--set", f"gan.{k}={v}")]
    base = ["compare", "gan", "--dataset", "plain", "--steps", "5", "--seeds", "2",
            "--no-progress", *sets]
    assert run_cli([*base, "--out", str(tmp_path / "a")]) == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert "distance" in results["models"]["gan"] and "modes" not in results["models"]["gan"]
    assert run_cli([*base, "--metric", "mode-coverage", "--out", str(tmp_path / "b")]) == 2
    assert "--metric mode-coverage: dataset 'blobs' is not a Gaussian mixture" in \
        capsys.readouterr().err


def test_an_exception_in_a_models_train_step_is_one_line_naming_it_and_its_plugin(
        tmp_path, monkeypatch, capsys):
    gan = plugins.registry().model("gan")

    class Broken(gan):
        name = "broken-gan"

        def train_step(self, batch, step, total_steps):
            if step == 2:
                raise KeyError("loss_typo")
            return super().train_step(batch, step, total_steps)

    @hookimpl
    def genzoo_register_models(models):
        models.add(Broken)

    use_registry(monkeypatch, [("broken", plugin_module("broken", genzoo_register_models=
                                                        genzoo_register_models))])
    capsys.readouterr()
    assert run_cli(["train", "broken-gan", "--toy", "grid25", "--steps", "5", "--out",
                    str(tmp_path / "r"), "--no-progress", *set_args(small_overrides(Broken))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "model 'broken-gan' of plugin 'broken'" in err and "train_step() at step 2" in err
    assert "KeyError" in err and "internal error" not in err
