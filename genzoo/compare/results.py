"""Every job's per-seed values merged into the results.json object, with evaluator notes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genzoo import api
from genzoo.compare.settings import CompareSettings, settings_json, wanted_metrics
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.training.trainer import resolve_device


def merge(registry: Registry, settings: CompareSettings, dataset: Dataset,
           done: list[dict[str, Any]], wall_seconds: float, world: int
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every job's values, in the order the models were named and seed by seed, summarised
    as a single process's compare would summarise them."""
    is_image = dataset.spec.kind == "image"
    wanted = wanted_metrics(registry, settings, is_image)
    device = resolve_device(settings.device)
    results: dict[str, Any] = {"dataset": settings.dataset, "kind": dataset.spec.kind,
                               "models": {}, "settings": settings_json(settings, device)}
    results["settings"]["ranks"] = world
    figures: dict[str, Any] = {}
    for name in settings.models:
        parts = [d for d in done if d["model"] == name]
        first = parts[0]
        blocks = [{"seeds": d["seeds"], "rank": d["rank"], "dir": d["dir"],
                   "seconds": d["seconds"], "eval_seconds": d["info"]["eval_seconds"]}
                  for d in parts]
        run = {"dir": first["dir"] if len(parts) == 1 else str(Path(first["dir"]).parent),
               "steps": first["steps"], "batch_size": first["batch_size"],
               "vectorized": first["vectorized"], "config": first["config"],
               **_merge_info([d["info"] for d in parts]), "blocks": blocks}
        # metric entries are the dicts with a "mean"; "seconds" is training wall time (the
        # slowest block's, the blocks training side by side); the rest of what describes the
        # run sits under "run" so it never reads as a metric
        seconds = max(d["seconds"] for d in parts)
        sizes = [len(d["seeds"]) for d in parts]
        results["models"][name] = {**api.summarize(concat_blocks([d["values"] for d in parts],
                                                             sizes)),
                                   "seconds": seconds, "run": {**run, "sampler": "raw"}}
        guided = [d["guided"] for d in parts if d["guided"] is not None]
        if guided:  # every block or none: whether a model can be guided is its class's
            results["models"][f"{name}+{settings.sampler}"] = {
                **api.summarize(concat_blocks([g[0] for g in guided], sizes)), "seconds": seconds,
                "run": {**run, **_merge_info([g[1] for g in guided]),
                        "sampler": settings.sampler, "raw_model": name}}
        figures[name] = next(d["figure"] for d in parts if d["figure"] is not None)
    results["wall_seconds"] = wall_seconds  # training and evaluation, all models
    results["evaluators"], results["notes"] = evaluator_notes(registry, results, wanted, dataset)
    return results, figures


def concat_blocks(parts: list[dict[str, list[float]]], sizes: list[int]
                  ) -> dict[str, list[float]]:
    """Per-seed values of consecutive seed blocks (of ``sizes`` seeds), joined metric by
    metric; a block whose evaluator failed gives NaN for each of its seeds (null in
    results.json), so every value stays beside its seed."""
    keys = list(dict.fromkeys(k for p in parts for k in p))
    return {k: [v for p, n in zip(parts, sizes, strict=True)
                for v in p.get(k, [math.nan] * n)] for k in keys}


def _merge_info(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """What the blocks' evaluations skipped, failed and ran (the slowest block's time)."""
    out: dict[str, Any] = {"eval_seconds": max(i["eval_seconds"] for i in infos),
                           "skipped": {}, "errors": {}, "evaluated": []}
    for i in infos:
        out["skipped"].update(i["skipped"])
        out["errors"].update(i["errors"])
        out["evaluated"] += [n for n in i["evaluated"] if n not in out["evaluated"]]
    return out


def evaluator_notes(registry: Registry, results: dict[str, Any], wanted: list[str] | None,
                    dataset: Dataset) -> tuple[dict[str, Any], list[str]]:
    """For each evaluator that scored a model or was asked for: its metric names and, when it
    failed or scored no model, a one-line note why. The table gives a noted evaluator's
    metrics a row of dashes, so a missing number is visible rather than silently absent."""
    models = results["models"]
    names = list(wanted) if wanted is not None else registry.evaluators.names()
    out: dict[str, Any] = {}
    notes: list[str] = []
    for name in names:
        cls = registry.evaluator(name)
        scored = [m for m, e in models.items() if name in e["run"].get("evaluated", [])]
        errors: dict[str, list[str]] = {}
        for m, e in models.items():
            if name in e["run"]["errors"]:
                errors.setdefault(e["run"]["errors"][name], []).append(m)
        note = None
        if errors:
            note = "; ".join(msg if len(who) == len(models) else f"{msg} ({', '.join(who)})"
                             for msg, who in errors.items())
        elif not scored and wanted is not None:
            reasons = dict.fromkeys(e["run"]["skipped"][name] for e in models.values()
                                    if name in e["run"]["skipped"])
            note = "; ".join(reasons) or cls().applies_to(dataset) or "nothing scored"
        if scored or note:
            about = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            out[name] = {"metrics": list(cls.metrics), "note": note, "about": about,
                         "labels": dict(cls.labels), "protocols": dict(cls.protocols)}
        if note:
            notes.append(f"{name}: {note}")
    return out, notes
