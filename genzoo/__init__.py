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
imported on first use so that ``import genzoo`` stays fast.
"""

import importlib
from typing import Any

# names a plugin author reaches for, at the top: name -> module that defines it. Nothing is
# imported until a name is used, so `import genzoo` (and the `genzoo` command's first
# moment, before its Ctrl-C handling is in place) stays instant.
EXPORTS = {
    "GenzooError": "genzoo.core.errors", "PluginError": "genzoo.core.errors",
    "hookimpl": "genzoo.core.hookspecs",
    "Model": "genzoo.core.model", "DataSpec": "genzoo.core.model", "Batch": "genzoo.core.model",
    "ReplicaRNG": "genzoo.core.rng",
    "ModelRegistry": "genzoo.core.registry", "DatasetRegistry": "genzoo.core.registry",
    "EvaluatorRegistry": "genzoo.core.registry",
    "Dataset": "genzoo.data.base", "Evaluator": "genzoo.evaluators.base",
    "EvalResult": "genzoo.evaluators.base",
    "build_registry": "genzoo.core.plugins",
    "Trainer": "genzoo.training.trainer", "TrainSettings": "genzoo.training.trainer",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("genzoo")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    if name in EXPORTS:
        return getattr(importlib.import_module(EXPORTS[name]), name)
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")


__all__ = ["__version__", *EXPORTS]
