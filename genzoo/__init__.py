"""genzoo: a zoo of generative models with inference behind one evaluation API.

The folders are the layers, and imports run one way, from the faces down to the core:

- ``cli``, ``api``, ``compare``, ``testing``, ``layers``: the faces (the command line, the
  Python API, the main job, the conformance kit, the building blocks for plugin models);
- ``reports/``: what compare renders (the toy and image reports, the paper's findings);
- ``training/``: the training loop, run directories, checkpoints, torchrun, TensorBoard;
- ``evaluators/``: the Evaluator interface, the bundled evaluators and what only they use;
- ``figures/``: image grids and scatter plots, for training's snapshots and for reports;
- ``data/``: the Dataset interface and the bundled datasets;
- ``core/``: hooks, the plugin manager, registries, the Model interface, configs, RNG streams.

The stable import paths for plugin authors are listed in docs/plugins.md ("Stable import
paths"); a few names are here at the top (``genzoo.Model``, ``genzoo.hookimpl``, ...),
imported on first use so that ``import genzoo`` stays fast. Modules that moved into the layer
folders are still importable under their old names (``genzoo.model``, ``genzoo.rng``, ...):
the same module objects.
"""

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("genzoo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from genzoo.core.errors import GenzooError  # noqa: E402
from genzoo.core.hookspecs import hookimpl  # noqa: E402

# the modules' homes before the layer folders: the old paths load the very same modules
MOVED = {
    "genzoo.errors": "genzoo.core.errors", "genzoo.hookspecs": "genzoo.core.hookspecs",
    "genzoo.plugins": "genzoo.core.plugins", "genzoo.registry": "genzoo.core.registry",
    "genzoo.model": "genzoo.core.model", "genzoo.config": "genzoo.core.config",
    "genzoo.config_files": "genzoo.core.config_files",
    "genzoo.conditions": "genzoo.core.conditions", "genzoo.rng": "genzoo.core.rng",
    "genzoo.sampling": "genzoo.core.sampling",
    "genzoo.trainer": "genzoo.training.trainer", "genzoo.runs": "genzoo.training.runs",
    "genzoo.distributed": "genzoo.training.distributed",
    "genzoo.stack": "genzoo.training.stack", "genzoo.allocator": "genzoo.training.allocator",
    "genzoo.snapshots": "genzoo.training.snapshots", "genzoo.locks": "genzoo.training.locks",
    "genzoo.tblog": "genzoo.training.tblog",
    "genzoo.grids": "genzoo.figures.grids", "genzoo.plots": "genzoo.figures.plots",
    "genzoo.fid": "genzoo.evaluators.frechet", "genzoo.fid_weights": "genzoo.evaluators.inception",
    "genzoo.linear_svm": "genzoo.evaluators.linear_svm",
    "genzoo.label_classifier": "genzoo.evaluators.label_classifier",
    "genzoo.report": "genzoo.reports.toy", "genzoo.report_images": "genzoo.reports.images",
    "genzoo.findings": "genzoo.reports.findings",
}

# names a plugin author reaches for, at the top: name -> module that defines it
EXPORTS = {
    "Model": "genzoo.core.model", "DataSpec": "genzoo.core.model", "Batch": "genzoo.core.model",
    "ReplicaRNG": "genzoo.core.rng", "PluginError": "genzoo.core.errors",
    "ModelRegistry": "genzoo.core.registry", "DatasetRegistry": "genzoo.core.registry",
    "EvaluatorRegistry": "genzoo.core.registry",
    "Dataset": "genzoo.data.base", "Evaluator": "genzoo.evaluators.base",
    "EvalResult": "genzoo.evaluators.base",
    "build_registry": "genzoo.core.plugins",
    "Trainer": "genzoo.training.trainer", "TrainSettings": "genzoo.training.trainer",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import genzoo.model`` gives ``genzoo.core.model`` itself (not a copy)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: Any) -> None:
        pass  # already executed under its own name


if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
    sys.meta_path.append(_OldPaths())


def __getattr__(name: str) -> Any:
    if name in EXPORTS:
        return getattr(importlib.import_module(EXPORTS[name]), name)
    if f"genzoo.{name}" in MOVED:
        return importlib.import_module(f"genzoo.{name}")
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")


__all__ = ["GenzooError", "hookimpl", "__version__", *EXPORTS]
