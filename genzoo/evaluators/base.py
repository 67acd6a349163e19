"""The Evaluator interface."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from genzoo.core import config as config_lib
from genzoo.core.errors import GenzooError
from genzoo.core.model import Model, UndeclaredPrior, can_phrase
from genzoo.core.rng import STREAMS, ReplicaRNG
from genzoo.data.base import Dataset


@dataclass
class EvalResult:
    """Metric values, one per seed (replica) of the model, and files written."""

    metrics: dict[str, list[float]]
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact name -> file path


MAX_COUNT = 10_000_000  # the most samples, examples or pairs any count option may ask for


def count(default: int, minimum: int = 1) -> Any:
    """An ``Options`` field counting samples, examples or pairs: an integer in
    ``minimum..MAX_COUNT``, so that no option value makes an evaluator's memory grow without
    end."""
    return config_lib.bounded(default, minimum=minimum, below=MAX_COUNT + 1)


class Evaluator:
    """Subclasses set ``name``, ``requires`` and ``metrics`` and implement ``evaluate``."""

    name: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()  # model capabilities needed
    metrics: ClassVar[tuple[str, ...]] = ()  # names of the metrics it can report
    # how reports name and explain its metrics: metric -> a readable label, metric -> what
    # exactly it measures (report.html); a metric without either is shown by its bare name
    labels: ClassVar[dict[str, str]] = {}
    protocols: ClassVar[dict[str, str]] = {}
    # the options it reads (``--eval-option KEY=VALUE``): a dataclass of typed fields with
    # defaults (``genzoo.core.config.bounded`` for ranges), parsed into ``self.opts`` by the
    # same coercion as model settings; a bad value is one line naming the evaluator
    Options: ClassVar[type | None] = None
    # for an evaluator without ``Options``: the keys it reads from ``self.options`` (None:
    # undeclared, which lets any key through unchecked)
    options_accepted: ClassVar[frozenset[str] | None] = None

    def __init__(self, **options: Any):
        self.options = options
        self.opts: Any = (config_lib.parse_options(self.Options, self.name, options)
                          if self.Options is not None else None)

    @classmethod
    def option_keys(cls) -> frozenset[str] | None:
        """The option keys it reads (None: undeclared)."""
        if cls.Options is not None:
            return frozenset(f.name for f in dataclasses.fields(cls.Options))
        return cls.options_accepted

    def applies_to(self, dataset: Dataset) -> str | None:
        """None if this evaluator can score models on ``dataset``, else the reason why not."""
        return None

    def missing(self, model: Model, dataset: Dataset) -> str | None:
        """Why this evaluator cannot run on (model, dataset), or None if it can."""
        lacking = sorted(self.requires - set(model.capabilities))
        if lacking:
            return (f"{self.name} needs a model that can {can_phrase(set(lacking))}; "
                    f"{model.name} cannot")
        return self.applies_to(dataset)

    def check(self, model: Model, dataset: Dataset) -> None:
        reason = self.missing(model, dataset)
        if reason:  # named, so a refusal from a third-party evaluator says whose it is
            raise GenzooError(reason if self.name in reason else f"{self.name}: {reason}")

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Score ``model`` (all its replicas) on ``dataset``; write artifacts to ``out_dir``."""
        raise NotImplementedError


def check_options(evaluators: Sequence[type[Evaluator] | Evaluator], options: Mapping[str, Any],
                  also: Iterable[str] = ()) -> None:
    """Refuse an option key none of ``evaluators`` (nor ``also``, e.g. the samplers' keys)
    reads: a misspelt ``--eval-option fid_sample=500`` would otherwise be silently ignored.
    Unchecked when any evaluator does not declare ``options_accepted``."""
    for ev in evaluators:  # typed options: a value of the wrong type is refused here
        if ev.Options is not None:
            config_lib.parse_options(ev.Options, ev.name, options)
    declared = [ev.option_keys() for ev in evaluators]
    if any(keys is None for keys in declared):
        return
    known = set(also).union(*declared)
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            names = ", ".join(ev.name for ev in evaluators)
            raise GenzooError(f"--eval-option {key!r} is read by none of {names}; {hint}"
                              f"(keys: {', '.join(sorted(known))})")


def eval_rng(model: Model, seed: int = 0, stream: str = "eval") -> ReplicaRNG:
    """One CPU generator per replica of ``model`` for an evaluation's own draws.

    ``seed`` 0 gives exactly ``ReplicaRNG(model.seeds, stream)``, so replica i is scored on the
    same draws whether it was trained alone or with other seeds; another ``seed`` gives an
    independent repetition of the evaluation. CPU generators keep results device-independent.
    """
    rng = ReplicaRNG(model.seeds, stream)
    if seed:
        for s, g in zip(model.seeds, rng.generators, strict=True):
            g.manual_seed(int(np.random.SeedSequence([s, STREAMS[stream], seed])
                              .generate_state(1)[0]))
    return rng


def heldout(dataset: Dataset, rng: ReplicaRNG, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` held-out examples per replica: x (R, n, *x_shape) and labels (R, n) or None."""
    xs, ys = zip(*(dataset.draw(n, g, split="test") for g in rng.generators), strict=True)
    return torch.stack(xs), None if ys[0] is None else torch.stack(ys)


def prior_draws(model: Model, n: int, z: torch.Tensor, rng: ReplicaRNG) -> torch.Tensor:
    """``n`` draws of the model's p(z) per replica, on the CPU, to set beside its encodings
    ``z`` (R, m, d): ``model.sample_prior``, or N(0, I) of z's own size for a model that
    declares no ``z_dim`` (which keeps the default prior)."""
    try:
        draws = model.sample_prior(n, rng)
    except UndeclaredPrior:
        draws = rng.randn(n, z.shape[-1])
    return draws.float().cpu()
