"""The evaluator check of the conformance kit: ``check_evaluator``."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import CAPABILITIES, Model
from genzoo.data.base import Dataset
from genzoo.data.toy import grid25
from genzoo.evaluators.base import EvalResult, Evaluator
from genzoo.testing.models import ConformanceError, first_difference, state_copy


class _Incapable(Model):
    """A model that can do nothing: an evaluator that requires anything must refuse it."""

    name = "genzoo-testing-incapable"

    @dataclasses.dataclass
    class Config:
        pass


def check_evaluator(evaluator_cls: type[Evaluator], model: Model,
                    dataset: Dataset | None = None, *, seed: int = 0,
                    options: Mapping[str, Any] | None = None) -> EvalResult:
    """Check an evaluator on ``model`` (an instance it applies to, trained or not).

    The declaration is valid; a model lacking a required capability is refused with a
    reason; ``evaluate`` returns declared metric names with one real number per replica,
    artifacts that exist, the same numbers for the same ``seed`` with or without an output
    directory, and leaves the model's weights, mode and noise stream untouched. Returns the
    result of the first evaluation, for further assertions.
    """
    label = getattr(evaluator_cls, "name", "") or getattr(evaluator_cls, "__qualname__", "?")

    def fail(what: str) -> ConformanceError:
        return ConformanceError(f"check_evaluator failed for evaluator {label!r}: {what}")

    if dataset is None:
        dataset = grid25()
    if not (isinstance(evaluator_cls, type) and issubclass(evaluator_cls, Evaluator)):
        raise fail(f"{evaluator_cls!r} does not subclass genzoo.evaluators.Evaluator")
    if not isinstance(evaluator_cls.name, str) or not evaluator_cls.name.strip():
        raise fail("`name` must be a non-empty string")
    unknown = set(evaluator_cls.requires) - CAPABILITIES
    if unknown:
        raise fail(f"requires unknown capabilities {sorted(unknown)}; known: "
                   f"{sorted(CAPABILITIES)}")
    declared = tuple(evaluator_cls.metrics)
    if not declared or not all(isinstance(m, str) and m for m in declared):
        raise fail(f"`metrics` must be a non-empty tuple of metric names, not {declared!r}")
    typed = evaluator_cls.Options
    if typed is not None:
        if not dataclasses.is_dataclass(typed):
            raise fail(f"Options is {typed!r}, not a dataclass of typed option fields")
        missing = [f.name for f in dataclasses.fields(typed)
                   if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise fail(f"Options fields without a default: {', '.join(missing)}; every "
                       f"option needs one (a user may give none)")
        try:
            evaluator_cls()
        except Exception as exc:
            raise fail(f"construction with no options raised {type(exc).__name__}: "
                       f"{exc}") from exc
    try:
        evaluator = evaluator_cls(**dict(options or {}))
    except Exception as exc:
        raise fail(f"construction raised {type(exc).__name__}: {exc}") from exc
    reason = evaluator.missing(model, dataset)
    if reason:
        raise fail(f"does not apply to the model given ({reason}); pass one it applies to")
    if evaluator_cls.requires:
        incapable = _Incapable(_Incapable.Config(), dataset.spec, [0])
        if not evaluator.missing(incapable, dataset):
            raise fail("accepted a model with no capabilities although it requires "
                       f"{sorted(evaluator_cls.requires)}")
        try:
            evaluator.check(incapable, dataset)
        except GenzooError:
            pass
        else:
            raise fail("check() did not refuse a model lacking a required capability")

    was_training = model.training
    weights = state_copy(model)
    noise = model.noise.get_state().clone()
    model.eval()
    results: list[EvalResult] = []
    try:
        with tempfile.TemporaryDirectory(prefix="genzoo-check-") as tmp:
            for out_dir in (Path(tmp), None):
                try:
                    with torch.no_grad():
                        result = evaluator.evaluate(model, dataset, seed=seed, out_dir=out_dir)
                except Exception as exc:
                    where = "an output directory" if out_dir else "out_dir=None"
                    raise fail(f"evaluate() with {where} raised {type(exc).__name__}: "
                               f"{exc}") from exc
                if not isinstance(result, EvalResult):
                    raise fail(f"evaluate() returned {type(result).__name__}, not EvalResult")
                difference = first_difference(weights, state_copy(model))
                if difference:
                    raise fail(f"evaluating changed the model ({difference}); evaluators "
                               f"must not train or modify it")
                if not torch.equal(model.noise.get_state(), noise):
                    raise fail("evaluating consumed the model's training noise stream "
                               "(model.noise), which would change how its run resumes; pass "
                               "your own ReplicaRNG to sample/encode")
                if model.training:
                    raise fail("evaluate() left the model in training mode")
                _check_result(result, declared, model.replicas, fail)
                if out_dir is not None:
                    for name, path in result.artifacts.items():
                        if not Path(path).exists():
                            raise fail(f"artifact {name!r} at {path} does not exist")
                elif result.artifacts:
                    raise fail("wrote artifacts although out_dir was None")
                results.append(result)
    finally:
        model.train(was_training)
    first, second = results
    if first.metrics != second.metrics:
        raise fail(f"the same seed gave different metrics: {first.metrics} vs "
                   f"{second.metrics}; draw randomness from ReplicaRNG(model.seeds, 'eval') "
                   f"or a generator made from `seed`")
    return first


def _check_result(result: EvalResult, declared: tuple[str, ...], replicas: int,
                  fail: Callable[[str], ConformanceError]) -> None:
    if not result.metrics:
        raise fail("evaluate() returned no metrics")
    for key, values in result.metrics.items():
        if key not in declared:
            raise fail(f"returned metric {key!r} that it does not declare in `metrics` "
                       f"{declared}")
        if not isinstance(values, (list, tuple)) or len(values) != replicas:
            raise fail(f"metric {key!r} must be a list of one value per replica "
                       f"({replicas}), got {values!r}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise fail(f"metric {key!r} holds {v!r}; values must be real numbers "
                           f"(python floats, not tensors or NaN)")
