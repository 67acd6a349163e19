"""The Evaluator interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from genzoo.data.base import Dataset
from genzoo.errors import GenzooError
from genzoo.model import Model


@dataclass
class EvalResult:
    """Metric values, one per seed (replica) of the model, and files written."""

    metrics: dict[str, list[float]]
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact name -> file path


class Evaluator:
    """Subclasses set ``name``, ``requires`` and ``metrics`` and implement ``evaluate``."""

    name: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()  # model capabilities needed
    metrics: ClassVar[tuple[str, ...]] = ()  # names of the metrics it can report

    def __init__(self, **options: Any):
        self.options = options

    def applies_to(self, dataset: Dataset) -> str | None:
        """None if this evaluator can score models on ``dataset``, else the reason why not."""
        return None

    def missing(self, model: Model, dataset: Dataset) -> str | None:
        """Why this evaluator cannot run on (model, dataset), or None if it can."""
        lacking = sorted(self.requires - set(model.capabilities))
        if lacking:
            return (f"{self.name} needs a model that can {' and '.join(lacking)}; "
                    f"{model.name} cannot")
        return self.applies_to(dataset)

    def check(self, model: Model, dataset: Dataset) -> None:
        reason = self.missing(model, dataset)
        if reason:
            raise GenzooError(reason)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Score ``model`` (all its replicas) on ``dataset``; write artifacts to ``out_dir``."""
        raise NotImplementedError
