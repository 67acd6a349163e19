"""Discriminator-guided sampling (genzoo.core.sampling): DRS and MH on a case with a known answer,
acceptance rates, determinism, the refusal for models without a D, and the plumbing through
`genzoo sample`, `evaluate` and `compare`."""

from __future__ import annotations

import json

import pytest
import torch
from host_helpers import run_cli, set_args, small_overrides
from scipy import stats

from genzoo.core import plugins, sampling
from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG

SHIFT = 1.0  # data N(SHIFT, 1), generator N(0, 1): log p_data/p_model = SHIFT·x − SHIFT²/2


class KnownRatio:
    """A stand-in generator N(0, 1) in 1-D whose "discriminator" logit is the exact log density
    ratio against data N(SHIFT, 1); two replicas."""

    name = "known-ratio"
    replicas = 2
    seeds = [0, 1]
    device = torch.device("cpu")
    capabilities = frozenset({"sample", "guide"})

    def __init__(self, logit_scale: float = 1.0):
        self.noise = ReplicaRNG(self.seeds, "noise")
        self.scale = logit_scale  # != 1: a miscalibrated D (the right ranking, wrong ratio)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def _logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * (SHIFT * x[..., 0] - SHIFT ** 2 / 2)

    def sample(self, n, rng=None):
        return (rng or self.noise).randn(n, 1)

    def sample_scored(self, n, rng=None):
        x = self.sample(n, rng)
        return x, self._logit(x)

    def score_data(self, x, rng=None):
        return self._logit(x)

    def sample_prior(self, n, rng=None):
        return (rng or self.noise).randn(n, 1)

    def prior_log_prob(self, z):
        return torch.distributions.Normal(0.0, 1.0).log_prob(z[..., 0])

    def score_latent(self, z):  # G is the identity: x = z
        return z, self._logit(z)


class Data:
    """The data side, N(SHIFT, 1), drawn as datasets draw."""

    def draw(self, n, g, split="train"):
        return torch.randn(n, 1, generator=g) + SHIFT, None


def _ks(x: torch.Tensor, loc: float) -> float:
    return stats.kstest(x.flatten().numpy(), "norm", args=(loc, 1.0)).pvalue


def test_exact_drs_turns_generator_draws_into_data_draws():
    guided = sampling.Guided(KnownRatio(), "drs", options={"drs_percentile": 0})
    x = guided.sample(3000, ReplicaRNG([0, 1], "eval"))
    assert x.shape == (2, 3000, 1)
    raw = KnownRatio().sample(3000, ReplicaRNG([0, 1], "eval"))
    for r in range(2):
        assert _ks(x[r], SHIFT) > 0.01  # indistinguishable from the data
        assert _ks(raw[r], SHIFT) < 1e-6  # while the generator itself is not
    rates = guided.acceptance.rate()
    # exact rejection sampling accepts E_p[exp(l - M)] = exp(-M'): well inside (0, 1)
    assert all(0.0 < a < 0.2 for a in rates)


def test_drs_with_the_papers_gamma_accepts_more_and_moves_towards_the_data():
    guided = sampling.Guided(KnownRatio(), "drs")
    x = guided.sample(3000, ReplicaRNG([0, 1], "eval"))
    exact = sampling.Guided(KnownRatio(), "drs", options={"drs_percentile": 0})
    exact.sample(3000, ReplicaRNG([0, 1], "eval"))
    assert min(guided.acceptance.rate()) > max(exact.acceptance.rate())
    assert all(0.3 < float(x[r].mean()) <= SHIFT + 0.1 for r in range(2))


def test_mh_with_calibration_recovers_the_data_even_from_a_miscalibrated_d():
    for scale in (1.0, 3.0):  # 3: D's logits too confident; Platt scaling undoes it
        guided = sampling.Guided(KnownRatio(scale), "mh", Data(), options={"mh_steps": 60})
        x = guided.sample(3000, ReplicaRNG([0, 1], "eval"))
        a, b = guided._platt
        assert torch.allclose(a, torch.full((2,), 1 / scale), rtol=0.15)
        for r in range(2):
            assert _ks(x[r], SHIFT) > 0.01, scale
        assert all(0.0 < rate < 1.0 for rate in guided.acceptance.rate())


LANGEVIN_EXACT = {"langevin_prior": 1, "langevin_temperature": 1, "langevin_steps": 400,
                  "langevin_step": 0.02}  # DDLS proper: its stationary law is p(z)·exp(l)


def test_langevin_proper_turns_generator_draws_into_data_draws():
    guided = sampling.Guided(KnownRatio(), "langevin", options=LANGEVIN_EXACT)
    x = guided.sample(3000, ReplicaRNG([0, 1], "eval"))
    raw = KnownRatio().sample(3000, ReplicaRNG([0, 1], "eval"))
    assert x.shape == (2, 3000, 1)
    for r in range(2):
        assert _ks(x[r], SHIFT) > 0.01  # indistinguishable from the data N(SHIFT, 1)
        assert _ks(raw[r], SHIFT) < 1e-6  # while the generator itself is not
    assert guided.acceptance.rate() == [1.0, 1.0]  # every draw moves, none is dropped


def test_langevin_defaults_flow_towards_what_d_calls_real_without_noise():
    # the defaults: no prior term, no noise; every draw moves up D's logit by the same step
    guided = sampling.Guided(KnownRatio(), "langevin")
    raw = KnownRatio().sample(500, ReplicaRNG([0, 1], "eval"))
    x = guided.sample(500, ReplicaRNG([0, 1], "eval"))
    o = sampling.DEFAULTS
    assert torch.allclose(x - raw, torch.full_like(x, o["langevin_steps"] * o["langevin_step"]
                                                   * SHIFT), atol=1e-5)
    # the prior's weight pulls back toward z = 0: z' = z + η(SHIFT − w·z) per step
    pulled = sampling.Guided(KnownRatio(), "langevin", options={"langevin_prior": 1,
                                                                 "langevin_steps": 1})
    one = pulled.sample(500, ReplicaRNG([0, 1], "eval"))
    assert torch.allclose(one, raw + o["langevin_step"] * (SHIFT - raw), atol=1e-6)


def test_langevin_runs_in_batches_of_sampler_batch():
    model = KnownRatio()
    flow = {"langevin_prior": 1, "langevin_steps": 5}  # noise-free: each draw's own path
    whole = sampling.Guided(model, "langevin", options=flow)
    parts = sampling.Guided(model, "langevin", options=flow | {"sampler_batch": 64})
    rng = ReplicaRNG([0, 1], "eval")
    start = torch.cat([model.sample_prior(64, rng), model.sample_prior(236, rng)], dim=1)
    a = whole.sample(300, ReplicaRNG([0, 1], "eval"))
    b = parts.sample(300, ReplicaRNG([0, 1], "eval"))
    assert a.shape == b.shape == (2, 300, 1) and not a.requires_grad and not b.requires_grad
    assert torch.allclose(b, start * (1 - 0.015) ** 5 + SHIFT * (1 - (1 - 0.015) ** 5), atol=1e-5)
    one_go = ReplicaRNG([0, 1], "eval")
    assert torch.allclose(a, one_go.randn(300, 1) * (1 - 0.015) ** 5
                          + SHIFT * (1 - (1 - 0.015) ** 5), atol=1e-5)


def test_langevin_needs_score_latent_and_a_prior_density():
    class NoLatent(KnownRatio):
        score_latent = None

    why = sampling.refusal(NoLatent(), "langevin")
    assert why and "score_latent" in why and "drs or mh" in why
    reg = plugins.registry()
    spec = reg.dataset("grid25").spec
    for name in ("ali", "alice", "bigan", "gan", "gan-inverse", "gan-posthoc"):
        cls = reg.model(name)
        assert sampling.refusal(cls(cls.make_config(spec), spec), "langevin") is None, name


def test_the_default_prior_density_is_the_standard_normals():
    reg = plugins.registry()
    ali = reg.model("ali")
    spec = reg.dataset("grid25").spec
    model = ali(ali.make_config(spec), spec, seeds=[0, 1])
    z = model.sample_prior(7, ReplicaRNG([0, 1], "eval"))
    want = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(model.prior_log_prob(z), want, atol=1e-5)

    class Uniform(ali):
        def sample_prior(self, n, rng=None):
            return (rng or self.noise).rand(n, self.z_dim) * 2 - 1

    odd = Uniform(ali.make_config(spec), spec)
    with pytest.raises(GenzooError, match="overrides sample_prior but not prior_log_prob"):
        odd.prior_log_prob(z[:1])


def test_platt_recovers_a_known_logistic_link():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1, 20000, generator=g) + 1.0
    fake = torch.randn(1, 20000, generator=g)
    a, b = sampling.platt(3 * (real - 0.5), 3 * (fake - 0.5))  # true link: a=1/3, b=0
    assert abs(float(a) - 1 / 3) < 0.03 and abs(float(b)) < 0.03


@pytest.mark.parametrize("sampler", ["drs", "mh", "langevin"])
def test_guided_samples_are_a_function_of_the_evaluation_seed(sampler):
    def draw(seed: int) -> torch.Tensor:
        guided = sampling.Guided(KnownRatio(), sampler, Data())
        return guided.sample(500, ReplicaRNG([seed, seed + 1], "eval"))

    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(5))


def test_decision_rules_stay_in_range():
    logit = torch.randn(3, 1000) * 5
    u = torch.rand(3, 1000)
    accept = sampling.drs_accept(logit, logit.max(1).values, 95.0, 1e-6, u)
    assert accept.dtype == torch.bool and 0 < accept.float().mean() < 1
    assert sampling.mh_accept(logit, logit + 1, u).all()  # a better proposal is always taken
    assert not sampling.mh_accept(logit, logit - 50, u).any()


def test_a_d_that_rejects_everything_gives_a_one_line_error():
    class Hopeless(KnownRatio):
        def sample_scored(self, n, rng=None):
            x = self.sample(n, rng)
            logit = torch.full(x.shape[:2], -1e4)
            logit[:, 0] = 0.0  # one outlier sets the max; nothing else is ever accepted
            return x, logit

    guided = sampling.Guided(Hopeless(), "drs", options={"drs_percentile": 0,
                                                          "sampler_max_proposals": 3,
                                                          "drs_burn_in": 100})
    with pytest.raises(GenzooError, match="use --sampler raw"):
        guided.sample(50_000, ReplicaRNG([0, 1], "eval"))


def test_bad_sampler_names_and_options_are_refused():
    with pytest.raises(GenzooError, match="choose one of raw, drs, mh, langevin"):
        sampling.Guided(KnownRatio(), "best")
    with pytest.raises(GenzooError, match="drs_percentile must be in 0..100"):
        sampling.Guided(KnownRatio(), "drs", options={"drs_percentile": 120})
    with pytest.raises(GenzooError, match="mh_steps must be > 0"):
        sampling.Guided(KnownRatio(), "mh", options={"mh_steps": "x"})
    with pytest.raises(GenzooError, match="langevin_temperature must be >= 0"):
        sampling.Guided(KnownRatio(), "langevin", options={"langevin_temperature": -1})


def test_models_without_a_discriminator_refuse_guided_samplers_in_one_line():
    reg = plugins.registry()
    vae = reg.model("vae")
    model = vae(vae.make_config(reg.dataset("grid25").spec), reg.dataset("grid25").spec)
    why = sampling.refusal(model, "drs")
    assert why and "supports --sampler raw only" in why and "drs, mh" in why
    with pytest.raises(GenzooError, match="no discriminator"):
        sampling.Guided(model, "mh")
    for name in ("ali", "bigan", "gan", "gan-posthoc", "gan-inverse", "alice"):
        assert "guide" in reg.model(name).capabilities, name


def _train(tmp_path, model: str, steps: int = 30) -> str:
    cls = plugins.registry().model(model)
    run = tmp_path / model
    assert run_cli(["train", model, "--toy", "grid25", "--steps", str(steps), "--out", str(run),
                    "--no-progress", *set_args(small_overrides(cls))]) == 0
    return str(run)


def test_sample_and_evaluate_take_a_sampler(tmp_path, capsys):
    run = _train(tmp_path, "ali")
    assert run_cli(["sample", run, "-n", "200", "-o", str(tmp_path / "s.npy"),
                    "--sampler", "drs"]) == 0
    assert "accepted" in capsys.readouterr().out
    assert run_cli(["evaluate", run, "--metric", "mode-coverage", "--sampler", "mh",
                    "--eval-option", "mh_steps=3"]) == 0
    results = json.loads((tmp_path / "ali" / "results.json").read_text())
    entry = results["evaluators"]["mode-coverage+mh"]
    assert entry["sampler"] == "mh"
    assert 0 < entry["metrics"]["acceptance_rate"]["mean"] < 1
    assert run_cli(["evaluate", run, "--metric", "mode-coverage", "--sampler", "langevin",
                    "--eval-option", "langevin_steps=3"]) == 0
    results = json.loads((tmp_path / "ali" / "results.json").read_text())
    assert results["evaluators"]["mode-coverage+langevin"]["sampler"] == "langevin"
    vae = _train(tmp_path, "vae", steps=5)
    capsys.readouterr()
    assert run_cli(["sample", vae, "--sampler", "drs", "-o", str(tmp_path / "v.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "supports --sampler raw only" in err


def test_compare_puts_guided_columns_beside_the_raw_ones(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "gan", "vae", "--toy", "grid25", "--seeds", "2", "--steps", "30",
            "--sampler", "drs", "--metric", "mode-coverage", "--out", str(out), "--no-progress"]
    for name in ("gan", "vae"):
        for key, value in small_overrides(plugins.registry().model(name)).items():
            args += ["--set", f"{name}.{key}={value}"]
    assert run_cli(args) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["gan", "gan+drs", "vae"]
    guided = results["models"]["gan+drs"]
    assert guided["run"]["sampler"] == "drs" and results["models"]["gan"]["run"]["sampler"] == "raw"
    assert len(guided["acceptance_rate"]["values"]) == 2
    assert "modes" in guided and "gan+drs" in (out / "report.html").read_text()
    assert "vae: scored raw only" in capsys.readouterr().err
