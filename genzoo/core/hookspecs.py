"""Every hook a genzoo plugin can implement.

A plugin is a module (or object) with functions decorated by ``genzoo.hookimpl`` whose names
match the specs below; it is found through the ``genzoo`` entry-point group. Each hook
receives a registry object and calls its typed ``add_*`` method, rather than returning a list,
so that what a plugin adds is checked the moment it is added and an error names the plugin.
All hooks are called once per process, when the registry is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from genzoo.core.registry import DatasetRegistry, EvaluatorRegistry, ModelRegistry

PROJECT = "genzoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def genzoo_register_models(models: ModelRegistry) -> None:
    """Register model classes with ``models.add(ModelClass)``.

    The class must subclass ``genzoo.Model`` and set ``name`` (the name users type, as in
    ``genzoo train NAME``), ``Config`` (a dataclass of its settings) and ``capabilities``.
    A name already registered by another plugin is an error that names both plugins.
    """


@hookspec
def genzoo_register_datasets(datasets: DatasetRegistry) -> None:
    """Register datasets with ``datasets.add(name, factory, description=...)``.

    ``factory(**options)`` returns a ``genzoo.data.Dataset``; the options are those the CLI
    passes (for example ``data_dir``). Factories are called lazily, only when a dataset is used,
    so registering a dataset whose files are absent costs nothing.
    """


@hookspec
def genzoo_register_evaluators(evaluators: EvaluatorRegistry) -> None:
    """Register evaluator classes with ``evaluators.add(EvaluatorClass)``.

    The class must subclass ``genzoo.evaluators.Evaluator`` and set ``name`` and ``requires``
    (the model capabilities it needs, e.g. ``{"encode"}``). Evaluators are used by name in
    ``genzoo evaluate RUN --metric NAME`` and run by ``genzoo compare`` wherever they apply.
    """
