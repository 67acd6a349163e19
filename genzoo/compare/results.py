"""Every job's per-seed values merged into a compare's typed results, with evaluator notes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genzoo.compare.settings import CompareSettings, settings_json, wanted_metrics
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.reports.results import (
    Block,
    CompareResults,
    EvaluatorRecord,
    Metric,
    ModelResult,
    RunRecord,
)
from genzoo.training.trainer import resolve_device


@dataclass
class Scores:
    """One evaluation of one job: per-seed values by metric, and what the evaluators did."""

    values: dict[str, list[float]]
    eval_seconds: float
    skipped: dict[str, str]
    errors: dict[str, str]
    evaluated: list[str]


@dataclass
class JobResult:
    """A trained and scored (model, seed block) job: plain data, pickled from rank to rank
    under torchrun, summarised by ``merge`` once every block is in."""

    model: str
    seeds: list[int]
    rank: int
    dir: str
    seconds: float  # training wall time
    steps: int
    batch_size: int
    vectorized: bool
    config: dict[str, Any]
    scores: Scores
    guided: Scores | None = None  # on the guided sampler's samples, when it could run
    figure: Any = None  # the figure's data, for the block holding seed 0


def merge(registry: Registry, settings: CompareSettings, dataset: Dataset,
           done: list[JobResult], wall_seconds: float, world: int
           ) -> tuple[CompareResults, dict[str, Any]]:
    """Every job's values, in the order the models were named and seed by seed, summarised
    as a single process's compare would summarise them."""
    is_image = dataset.spec.kind == "image"
    wanted = wanted_metrics(registry, settings, is_image)
    recorded = {**settings_json(settings, resolve_device(settings.device)), "ranks": world}
    results = CompareResults(settings.dataset, dataset.spec.kind, {}, recorded, wall_seconds)
    figures: dict[str, Any] = {}
    for name in settings.models:
        parts = [d for d in done if d.model == name]
        results.models[name] = _column(parts, [d.scores for d in parts])
        guided = [d.guided for d in parts if d.guided is not None]
        if guided:  # every block or none: whether a model can be guided is its class's
            results.models[f"{name}+{settings.sampler}"] = _column(
                parts, guided, sampler=settings.sampler, raw_model=name)
        figures[name] = next(d.figure for d in parts if d.figure is not None)
    results.evaluators, results.notes = evaluator_notes(registry, results, wanted, dataset)
    return results, figures


def _column(parts: list[JobResult], scores: list[Scores], **run: Any) -> ModelResult:
    """A model's column from its blocks' scores: training time is the slowest block's (the
    blocks train side by side)."""
    first = parts[0]
    values = concat_blocks([s.values for s in scores], [len(d.seeds) for d in parts])
    blocks = [Block(d.seeds, d.rank, d.dir, d.seconds, d.scores.eval_seconds) for d in parts]
    where = first.dir if len(parts) == 1 else str(Path(first.dir).parent)
    return ModelResult({k: Metric.of(v) for k, v in values.items()},
                       max(d.seconds for d in parts),
                       RunRecord(where, first.steps, first.batch_size, first.vectorized,
                                 first.config, **_merge_scores(scores), blocks=blocks, **run))


def concat_blocks(parts: list[dict[str, list[float]]], sizes: list[int]
                  ) -> dict[str, list[float]]:
    """Per-seed values of consecutive seed blocks (of ``sizes`` seeds), joined metric by
    metric; a block whose evaluator failed gives NaN for each of its seeds (null in
    results.json), so every value stays beside its seed."""
    keys = list(dict.fromkeys(k for p in parts for k in p))
    return {k: [v for p, n in zip(parts, sizes, strict=True)
                for v in p.get(k, [math.nan] * n)] for k in keys}


def _merge_scores(scores: list[Scores]) -> dict[str, Any]:
    """What the blocks' evaluations skipped, failed and ran (the slowest block's time)."""
    out: dict[str, Any] = {"eval_seconds": max(s.eval_seconds for s in scores),
                           "skipped": {}, "errors": {}, "evaluated": []}
    for s in scores:
        out["skipped"].update(s.skipped)
        out["errors"].update(s.errors)
        out["evaluated"] += [n for n in s.evaluated if n not in out["evaluated"]]
    return out


def evaluator_notes(registry: Registry, results: CompareResults, wanted: list[str] | None,
                    dataset: Dataset) -> tuple[dict[str, EvaluatorRecord], list[str]]:
    """For each evaluator that scored a model or was asked for: its metric names and, when it
    failed or scored no model, a one-line note why. The table gives a noted evaluator's
    metrics a row of dashes, so a missing number is visible rather than silently absent."""
    runs = {m: e.run for m, e in results.models.items()}
    names = list(wanted) if wanted is not None else registry.evaluators.names()
    out: dict[str, EvaluatorRecord] = {}
    notes: list[str] = []
    for name in names:
        cls = registry.evaluator(name)
        scored = [m for m, r in runs.items() if name in r.evaluated]
        errors: dict[str, list[str]] = {}
        for m, r in runs.items():
            if name in r.errors:
                errors.setdefault(r.errors[name], []).append(m)
        note = None
        if errors:
            note = "; ".join(msg if len(who) == len(runs) else f"{msg} ({', '.join(who)})"
                             for msg, who in errors.items())
        elif not scored and wanted is not None:
            reasons = dict.fromkeys(r.skipped[name] for r in runs.values() if name in r.skipped)
            note = "; ".join(reasons) or cls().applies_to(dataset) or "nothing scored"
        if scored or note:
            about = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            out[name] = EvaluatorRecord(list(cls.metrics), note, about, dict(cls.labels),
                                        dict(cls.protocols))
        if note:
            notes.append(f"{name}: {note}")
    return out, notes
