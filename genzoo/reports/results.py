"""A compare's results, typed: what results.json holds, written by ``to_json`` and read back by
``from_json`` in this one place. The reports read attributes; only the recorded settings and
the published rows stay plain dicts (they are shown as recorded).

results.json's shape is unchanged since genzoo's first compare (a model's metrics sit beside its
"seconds" and "run"), so every results.json ever written opens here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls`` (a newer file's extras are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Metric:
    """One metric over seeds: each seed's value (None where it was NaN or infinite), the mean
    and the population std over seeds (None when any seed was not finite)."""

    values: list[float | None]
    mean: float | None
    std: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Metric:
        if not all(math.isfinite(v) for v in values):
            return cls([float(v) if math.isfinite(v) else None for v in values], None, None)
        mean = math.fsum(values) / len(values)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        return cls([float(v) for v in values], mean, std)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mean": self.mean, "std": self.std}
        if self.mean is None:
            out["not_finite"] = self.values.count(None)
        return {**out, "values": self.values}


def summarize(metrics: dict[str, Sequence[float]]) -> dict[str, dict[str, Any]]:
    """Per-seed values -> each metric's JSON summary (``Metric.to_json``)."""
    return {k: Metric.of(v).to_json() for k, v in metrics.items()}


@dataclass
class Block:
    """The seeds one rank trained (one block per model outside torchrun)."""

    seeds: list[int]
    rank: int
    dir: str
    seconds: float
    eval_seconds: float


@dataclass
class RunRecord:
    """What a model's run was, and what its evaluators did (which scored it, which were skipped
    and why, which failed and with what)."""

    dir: str
    steps: int
    batch_size: int
    vectorized: bool
    config: dict[str, Any]
    eval_seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    evaluated: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    sampler: str = "raw"
    raw_model: str | None = None  # a guided column's model

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.raw_model is None:
            del out["raw_model"]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        blocks = [Block(**_known(Block, b)) for b in data.get("blocks", [])]
        defaults = {"dir": "", "steps": 0, "batch_size": 0, "vectorized": False, "config": {},
                    "eval_seconds": 0.0}
        return cls(**{**defaults, **_known(cls, data), "blocks": blocks})


@dataclass
class ModelResult:
    """One compare column: the model's metrics, its training wall time (the slowest block's,
    blocks training side by side) and its run."""

    metrics: dict[str, Metric]
    seconds: float
    run: RunRecord

    def to_json(self) -> dict[str, Any]:
        return {**{k: m.to_json() for k, m in self.metrics.items()},
                "seconds": self.seconds, "run": self.run.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResult:
        metrics = {k: Metric(**_known(Metric, v)) for k, v in data.items()
                   if isinstance(v, dict) and "mean" in v}
        return cls(metrics, float(data.get("seconds", 0.0)),
                   RunRecord.from_json(data.get("run", {})))


@dataclass
class EvaluatorRecord:
    """An evaluator as the report describes it, with a one-line note when it failed or scored
    no model (its metrics then get rows of dashes)."""

    metrics: list[str]
    note: str | None = None
    about: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    protocols: dict[str, str] = field(default_factory=dict)


@dataclass
class Finding:
    """A claim of the paper, its verdict here and the numbers behind it."""

    claim: str
    verdict: str
    evidence: str


@dataclass
class CompareResults:
    dataset: str
    kind: str  # the dataset's kind: "toy" or "image"
    models: dict[str, ModelResult]  # columns in the order the models were named
    settings: dict[str, Any] = field(default_factory=dict)  # as recorded (settings_json)
    wall_seconds: float = 0.0  # training and evaluation, all models
    evaluators: dict[str, EvaluatorRecord] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    published: dict[str, Any] = field(default_factory=dict)  # {"note": ..., "rows": [...]}

    @property
    def sampler(self) -> str:
        return str(self.settings.get("sampler", "raw"))

    def mean(self, model: str, metric: str) -> float | None:
        """The seed mean of ``metric`` for ``model``; None when not measured (or NaN)."""
        entry = self.models.get(model)
        found = entry.metrics.get(metric) if entry else None
        return found.mean if found else None

    def guided_view(self) -> CompareResults:
        """These results with each model's guided metrics (``NAME+SAMPLER``) over its raw
        ones; a model without a guided column (no discriminator) keeps its raw numbers."""
        models = {}
        for name, entry in self.models.items():
            if "+" in name:
                continue
            guided = self.models.get(f"{name}+{self.sampler}")
            metrics = {**entry.metrics, **(guided.metrics if guided else {})}
            models[name] = dataclasses.replace(entry, metrics=metrics)
        return dataclasses.replace(self, models=models)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["models"] = {k: m.to_json() for k, m in self.models.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompareResults:
        return cls(**{
            **_known(cls, data), "kind": data.get("kind", "toy"),
            "models": {k: ModelResult.from_json(v) for k, v in data.get("models", {}).items()},
            "evaluators": {k: EvaluatorRecord(**_known(EvaluatorRecord, v))
                           for k, v in data.get("evaluators", {}).items()},
            "findings": [Finding(**_known(Finding, f)) for f in data.get("findings", [])]})

    @classmethod
    def load(cls, path: Path) -> CompareResults:
        return cls.from_json(json.loads(Path(path).read_text()))
