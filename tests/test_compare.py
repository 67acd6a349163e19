"""`genzoo compare` end to end on tiny networks, with a third-party model that cannot encode."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from host_helpers import assert_compare_refuses, run_cli, set_args, small_overrides, use_registry
from torch import nn

from genzoo.compare import parse_sets
from genzoo.core.errors import GenzooError
from genzoo.core.hookspecs import hookimpl
from genzoo.core.model import Batch, DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.reports.results import CompareResults

SAMPLE_METRICS = {"modes_paper", "modes", "high_quality", "reverse_kl"}
ENCODER_METRICS = {"latent_match", "latent_recall", "reconstruction_error",
                   "reconstruction_mode_accuracy"}


@dataclass
class BlobConfig:
    lr: float = 0.1
    steps: int = 5
    batch_size: int = 10


class Blob(Model):
    """A third-party model: one Gaussian blob whose centre follows the data mean. It is not
    vectorized (compare stacks it) and has no encoder (compare gives it dashes)."""

    name = "blob"
    Config = BlobConfig
    capabilities = frozenset({"sample"})

    def __init__(self, config: BlobConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        self.centre = nn.Parameter(ReplicaRNG(self.seeds, "init").randn(1, 2))
        self.opt = torch.optim.SGD([self.centre], lr=config.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"sgd": self.opt}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        loss = (batch.x - self.centre).square().sum(-1).mean(-1)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"loss": loss.detach()}

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.centre + 0.05 * (rng or self.noise).randn(n, 2)


class Pictures(Dataset):
    spec = DataSpec("pictures", (1, 4, 4), kind="image")


class ThirdParty:
    @staticmethod
    @hookimpl
    def genzoo_register_models(models) -> None:
        models.add(Blob)

    @staticmethod
    @hookimpl
    def genzoo_register_datasets(datasets) -> None:
        datasets.add("pictures", lambda **_: Pictures())


@pytest.fixture
def registry(monkeypatch):
    reg = use_registry(monkeypatch, [("third-party", ThirdParty)])
    return reg


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from a second thread, and on a shared 2-core machine the
    thread hand-offs make each step many times slower; restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_sets(registry, models: Sequence[str]) -> list[str]:
    merged: dict[str, object] = {}
    for name in models:
        merged.update(small_overrides(registry.model(name)))
    return set_args(merged)


def test_tiny_compare_writes_results_figure_and_report(registry, tmp_path: Path, capsys):
    out = tmp_path / "cmp"
    models = ["gan", "vae", "blob"]
    code = run_cli(["compare", *models, "--toy", "grid25", "--seeds", "2", "--steps", "20",
                    *tiny_sets(registry, ["gan", "vae"]), "--out", str(out), "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.err

    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "grid25"
    assert list(results["models"]) == models
    for name, entry in results["models"].items():
        assert entry["seconds"] > 0
        metrics = {k for k, v in entry.items() if isinstance(v, dict) and "mean" in v}
        expected = SAMPLE_METRICS | (ENCODER_METRICS if name == "vae" else set())
        assert expected <= metrics
        if name != "vae":
            assert not metrics & ENCODER_METRICS
            assert "encode" in entry["run"]["skipped"]["inference"]
        for metric in metrics:
            values = entry[metric]["values"]
            assert len(values) == 2
            assert entry[metric]["mean"] == pytest.approx(sum(values) / 2)
            assert entry[metric]["std"] == pytest.approx(abs(values[0] - values[1]) / 2)
        assert 0 <= entry["high_quality"]["mean"] <= 1
        assert 0 <= entry["modes"]["mean"] <= 25
    assert results["settings"]["seeds"] == 2
    assert results["models"]["blob"]["run"]["vectorized"] is False
    assert [f["verdict"] for f in results["findings"]][0] == "not measured"  # no ali here
    # the file opens as typed results that write back the very same object
    typed = CompareResults.load(out / "results.json")
    assert typed.to_json() == results
    assert typed.models["blob"].run.vectorized is False and typed.kind == "toy"

    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page
    assert "published" in page and "PacGAN Table 1" in page and "24.1 ± 0.4" in page
    assert "paper protocol" in page and "PacGAN/VEEGAN protocol" in page
    for row in page.splitlines():
        if "Table 1</td>" in row or "ALI paper §4.5" in row:
            assert row.startswith('<tr class="published"><td>published</td>')
    latent_row = next(line for line in page.splitlines() if "[latent_match]" in line)
    assert latent_row.count("<td>–</td>") == 2  # gan and blob: no encoder
    assert "±" in printed.out and "–" in printed.out  # the rich table

    # each model's run directory can be evaluated again later, to the same numbers
    capsys.readouterr()
    assert run_cli(["evaluate", str(out / "runs" / "gan"), "--metric", "mode-coverage"]) == 0
    again = json.loads((out / "runs" / "gan" / "results.json").read_text())
    assert again["evaluators"]["mode-coverage"]["metrics"]["modes"]["values"] == \
        results["models"]["gan"]["modes"]["values"]


@pytest.mark.parametrize("args, message", [
    (["nosuch", "gan"], "unknown model 'nosuch'"),
    (["gan", "gan"], "named twice"),
    (["gan", "--seeds", "0"], "--seeds must be in 1..100000"),
    (["gan", "--steps", "-1"], "--steps must be a positive integer"),
    (["gan", "--toy", "grid26"], "unknown dataset 'grid26'"),
    (["gan", "--set", "nosuch=1"], "no compared model has a setting"),
    (["gan", "--preset", "fast"], "has no preset 'fast'"),
    (["gan", "--toy", "pictures"], "compare runs on toy Gaussian mixtures"),
])
def test_bad_input_is_one_line_before_any_training(registry, tmp_path, capsys, args, message):
    assert_compare_refuses(args, message, tmp_path / "cmp", capsys)


def test_refuses_a_non_empty_output_directory(registry, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert run_cli(["compare", "blob", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_set_targets_one_model_or_every_model_with_the_field(registry):
    models = ["gan", "vae", "blob"]
    both = parse_sets(["decoder_hidden=8"], registry, models)
    assert both["gan"] == {"decoder_hidden": 8} and both["vae"] == {"decoder_hidden": 8}
    assert both["blob"] == {}
    one = parse_sets(["vae.decoder_hidden=8", "blob.lr=0.5"], registry, models)
    assert one == {"gan": {}, "vae": {"decoder_hidden": 8}, "blob": {"lr": 0.5}}
    with pytest.raises(GenzooError, match="not being compared"):
        parse_sets(["ali.lr=1"], registry, models)
    with pytest.raises(GenzooError, match="unknown setting"):
        parse_sets(["vae.nosuch=1"], registry, models)


def test_a_diverged_seed_is_null_in_results_json() -> None:
    from genzoo.api import summarize

    summary = summarize({"modes": [3.0, math.nan]})["modes"]
    assert summary["values"] == [3.0, None] and summary["mean"] is None
    assert summary["not_finite"] == 1
    json.dumps(summary, allow_nan=False)  # strict JSON


def test_a_results_json_of_genzoos_first_compare_opens_in_the_report(tmp_path):
    from genzoo.reports import toy

    # the shape the first compare wrote (2026-11-24): no kind, blocks, evaluators or sampler
    first = {"dataset": "grid25", "settings": {"seeds": 2, "preset": "paper"},
             "models": {"ali": {"modes": {"mean": 24.0, "std": 0.5, "values": [23.5, 24.5]},
                                "seconds": 3.0,
                                "run": {"dir": "o/runs/ali", "steps": 10, "batch_size": 64,
                                        "vectorized": True, "config": {"z_dim": 2},
                                        "eval_seconds": 1.0, "skipped": {}, "errors": {}}}},
             "wall_seconds": 5.0,
             "findings": [{"claim": "ALI covers more modes than GAN", "verdict": "not measured",
                           "evidence": "needs a GAN"}],
             "published": {"note": "published", "rows": []}}
    results = CompareResults.load(write(tmp_path / "results.json", json.dumps(first)))
    assert results.mean("ali", "modes") == 24.0 and results.models["ali"].run.steps == 10
    figure = write(tmp_path / "figure.png", "not read as an image")
    toy.write_html(results, figure, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "24.0 ± 0.5" in page and "needs a GAN" in page and "o/runs/ali" in page


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_evaluators_declared_label_and_protocol_reach_the_report():
    from genzoo.reports import images, toy

    results = CompareResults.from_json({
        "dataset": "d",
        "models": {"m": {"spread": {"mean": 0.5, "std": 0.0, "values": [0.5]}, "seconds": 1.0}},
        "evaluators": {"spread": {"metrics": ["spread"], "note": None, "about": "x",
                                  "labels": {"spread": "sample spread / data spread"},
                                  "protocols": {"spread": "root total variance"}}}})
    header, rows = toy.table_rows(results)
    assert rows[0][0] == "sample spread / data spread [spread]"
    assert toy.label("spread") == "spread"  # without the evaluator's record: the bare name
    # the built-ins declare theirs through the same path
    from genzoo.evaluators.mode_coverage import ModeCoverage
    from genzoo.evaluators.reconstruction import Reconstruction

    assert set(ModeCoverage.labels) == set(ModeCoverage.metrics)
    assert "derangement" in Reconstruction.protocols["reconstruction_normalized"]
    assert not hasattr(images, "PROTOCOLS")
