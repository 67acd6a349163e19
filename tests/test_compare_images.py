"""`genzoo compare --dataset IMAGES` end to end on tiny test models (independent of the bundled
models' image networks), evaluators that cannot run, refusals, and the toy compare's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from host_helpers import assert_compare_refuses, run_cli, set_args, small_overrides, use_registry
from image_helpers import ImagePlugin

from genzoo import compare
from genzoo.compare import settings as compare_settings
from genzoo.core.errors import GenzooError
from genzoo.core.hookspecs import hookimpl
from genzoo.evaluators.base import EvalResult, Evaluator

RECONSTRUCTION = {"reconstruction_mse", "reconstruction_normalized"}
INTERPOLATION = {"interpolation_endpoint_mse", "interpolation_largest_step"}
WEIGHTS_MESSAGE = "no Inception weights found; pass --fid-weights PATH"


class NeedsWeights(Evaluator):
    """Stands in for FID on a machine without its weights: it always refuses in one line."""

    name = "needs-weights"
    requires = frozenset({"sample"})
    metrics = ("fake_fid",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        raise GenzooError(WEIGHTS_MESSAGE)


class EchoOption(Evaluator):
    """Reports the value of its option ``k`` (or -1), to see --eval-option arrive."""

    name = "echo-option"
    requires = frozenset({"sample"})
    metrics = ("echo",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"echo": [float(self.options.get("k", -1))] * model.replicas})


class TestEvaluators:
    @staticmethod
    @hookimpl
    def genzoo_register_evaluators(evaluators) -> None:
        evaluators.add(NeedsWeights)
        evaluators.add(EchoOption)


@pytest.fixture
def registry(monkeypatch):
    reg = use_registry(monkeypatch, [("tiny-images", ImagePlugin),
                                                ("test-evaluators", TestEvaluators)])
    # the default image evaluators as the host names them, with one that is not registered
    # (as fid or svm-features are where their plugin is missing): it is left out silently
    monkeypatch.setattr(compare_settings, "IMAGE_METRICS",
                        ("reconstruction", "interpolation", "needs-weights", "not-registered"))
    return reg


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def scored(entry: dict) -> set[str]:
    return {k for k, v in entry.items() if isinstance(v, dict) and "mean" in v}


def test_image_compare_writes_table_results_figure_and_report(registry, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = run_cli(["compare", "tiny-ae", "mean-image", "--dataset", "digits", "--steps", "5",
                    "--out", str(out), "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.err

    results = json.loads((out / "results.json").read_text())
    assert {"dataset", "models", "settings", "findings", "published", "wall_seconds"} <= set(
        results)  # the toy compare's shape
    assert results["dataset"] == "digits" and results["kind"] == "image"
    assert results["settings"]["seeds"] == 1  # the image default
    assert list(results["models"]) == ["tiny-ae", "mean-image"]
    ae, sampler = results["models"]["tiny-ae"], results["models"]["mean-image"]
    assert scored(ae) == RECONSTRUCTION | INTERPOLATION
    assert scored(sampler) == set()
    assert all(len(ae[m]["values"]) == 1 for m in scored(ae))
    assert 0 < ae["reconstruction_mse"]["mean"] < 1
    assert 0 < ae["reconstruction_normalized"]["mean"] < 1.5
    assert sampler["run"]["skipped"]["reconstruction"].endswith("mean-image cannot")
    # the failing default evaluator: its row is dashes, with one note saying why
    assert ae["run"]["errors"]["needs-weights"] == WEIGHTS_MESSAGE
    assert results["evaluators"]["needs-weights"] == {
        "metrics": ["fake_fid"], "note": WEIGHTS_MESSAGE, "about": NeedsWeights.__doc__.strip(),
        "labels": {}, "protocols": {}}
    assert results["notes"] == [f"needs-weights: {WEIGHTS_MESSAGE}"]
    assert "not-registered" not in results["evaluators"]
    assert results["findings"] == []  # §4.5's findings are about the toy mixtures

    table = printed.out
    assert "one seed per model" in table and "±" not in table
    fake_row = next(line for line in table.splitlines() if "fake_fid" in line)
    assert fake_row.count("–") == 2
    assert f"note: needs-weights: {WEIGHTS_MESSAGE}" in " ".join(table.split())

    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "[reconstruction_mse]" in page
    assert WEIGHTS_MESSAGE in page and "BiGAN" in page
    for name in ("tiny-ae", "mean-image"):
        assert (out / "runs" / name / "config.json").exists()
    assert (out / "runs" / "tiny-ae" / "reconstructions-seed0.png").exists()

    # the run directory evaluates again later, to the same numbers
    assert run_cli(["evaluate", str(out / "runs" / "tiny-ae"), "--metric", "reconstruction"]) == 0
    again = json.loads((out / "runs" / "tiny-ae" / "results.json").read_text())
    assert again["evaluators"]["reconstruction"]["metrics"]["reconstruction_mse"]["values"] == \
        ae["reconstruction_mse"]["values"]


def test_metric_chooses_evaluators_and_seeds_give_a_spread(registry, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = run_cli(["compare", "tiny-ae", "--dataset", "digits", "--steps", "3", "--seeds", "2",
                    "--metric", "reconstruction", "--metric", "echo-option",
                    "--eval-option", "k=7", "--eval-option", "heldout=40", "--out", str(out),
                    "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    results = json.loads((out / "results.json").read_text())
    entry = results["models"]["tiny-ae"]
    assert scored(entry) == RECONSTRUCTION | {"echo"}
    assert entry["echo"]["values"] == [7.0, 7.0]
    values = entry["reconstruction_mse"]["values"]
    assert len(values) == 2 and values[0] != values[1]  # two seeds, two models
    assert results["notes"] == [] and "±" in printed.out
    assert results["settings"]["eval_options"] == {"k": "7", "heldout": "40"}


@pytest.mark.parametrize("args, message", [
    (["tiny-ae", "--toy", "digits"], "compare runs on toy Gaussian mixtures with --toy"),
    (["tiny-ae", "--toy", "grid25", "--dataset", "digits"], "either --toy or --dataset"),
    (["tiny-ae", "--dataset", "digits", "--metric", "mode-coverage"],
     "--metric mode-coverage: dataset 'digits' is not a Gaussian mixture"),
    (["tiny-ae", "--toy", "grid25", "--metric", "reconstruction"],
     "--metric reconstruction: reconstruction scores image datasets"),
    (["mean-image", "--dataset", "digits", "--metric", "interpolation"],
     "--metric interpolation needs a model that can encode; none of mean-image can"),
    (["tiny-ae", "--dataset", "digits", "--metric", "nosuch"], "unknown evaluator 'nosuch'"),
    (["tiny-ae", "--dataset", "digits", "--eval-option", "k"], "must look like KEY=VALUE"),
])
def test_bad_input_is_one_line_before_any_training(registry, tmp_path, capsys, args, message):
    assert_compare_refuses(args, message, tmp_path / "cmp", capsys)


def test_toy_compare_defaults_to_grid25_and_every_applicable_evaluator(registry, tmp_path,
                                                                       capsys):
    out = tmp_path / "cmp"
    code = run_cli(["compare", "gan", "--steps", "5", "--seeds", "1",
                    *set_args(small_overrides(registry.model("gan"))), "--out", str(out),
                    "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "grid25" and results["kind"] == "toy"
    gan = results["models"]["gan"]
    assert {"modes", "modes_paper", "high_quality", "reverse_kl"} <= scored(gan)
    # no image metric rows on toy data, and the test evaluators that sample ran as before
    assert not scored(gan) & (RECONSTRUCTION | INTERPOLATION)
    assert gan["run"]["errors"] == {"needs-weights": WEIGHTS_MESSAGE}
    assert "one seed per model" in printed.out
    assert [f["claim"] for f in results["findings"]][0] == "ALI covers more modes than GAN"


def test_default_out_and_seed_defaults():
    assert compare.TOY_SEEDS == 10 and compare.IMAGE_SEEDS == 1
    assert compare.default_out("folder:/a/b").name.startswith("folder__a_b-")
    assert Path(compare.default_out("digits")).parent == Path("compare")


def test_the_cpu_image_compare_scores_fid_on_1000_samples_and_says_so(registry, monkeypatch,
                                                                       tmp_path, capsys):
    if "fid" not in registry.evaluators:
        pytest.skip("the fid evaluator is not registered")
    # fid in the default list; its Inception pass (minutes) is replaced by a one-line
    # failure: the compare still sets its sample count, and the table row carries it
    monkeypatch.setattr(compare_settings, "IMAGE_METRICS", ("reconstruction", "fid"))

    def no_inception(self, model, dataset, *, seed=0, out_dir=None):
        raise GenzooError(f"no Inception in this test (fid_samples={self.options['fid_samples']})")

    monkeypatch.setattr(registry.evaluator("fid"), "evaluate", no_inception)
    out = tmp_path / "cmp"
    code = run_cli(["compare", "tiny-ae", "--dataset", "digits", "--steps", "2", "--device",
                    "cpu", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["eval_options"]["fid_samples"] == str(compare.CPU_FID_SAMPLES)
    assert compare.CPU_FID_SAMPLES == 1000
    fid_row = next(line for line in printed.out.splitlines() if line.startswith("│ fid "))
    assert "(1,000 samples)" in fid_row and "–" in fid_row
    assert results["notes"] == ["fid: no Inception in this test (fid_samples=1000)"]
    assert "(1,000 samples)" in (out / "report.html").read_text()


def test_an_explicit_fid_sample_count_is_kept(registry, monkeypatch, tmp_path):
    if "fid" not in registry.evaluators:
        pytest.skip("the fid evaluator is not registered")
    seen = []

    def no_inception(self, model, dataset, *, seed=0, out_dir=None):
        seen.append(self.options["fid_samples"])
        raise GenzooError("no Inception in this test")

    monkeypatch.setattr(registry.evaluator("fid"), "evaluate", no_inception)
    out = tmp_path / "cmp"
    code = run_cli(["compare", "tiny-ae", "--dataset", "digits", "--steps", "2", "--device",
                    "cpu", "--metric", "reconstruction", "--metric", "fid", "--eval-option",
                    "fid_samples=50", "--out", str(out), "--no-progress"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["eval_options"]["fid_samples"] == "50" and seen == [50]


def test_the_image_report_shows_published_numbers_labelled(registry, tmp_path):
    from genzoo.reports import images as report_images

    rows = report_images.PUBLISHED["mnist5k"]
    page = report_images.published_html(rows)
    assert page.count('class="published"') == len(rows) and "not measured here" in page
    assert "BiGAN" in page and "0.62" in page
    assert "No published numbers" in report_images.published_html([])
    # the terminal shows them too, under a title that says they are published
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(report_images.published_rich(rows))
    text = console.export_text()
    assert "published, not measured here" in text
    assert "45.95 %" in text and "98.17 %" in text and "class_agreement" in text
