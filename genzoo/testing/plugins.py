"""A whole plugin, checked: ``check_plugin`` and ``parametrize_with_checks``.

``check_plugin(module)`` loads the plugin through its hooks as genzoo does, in strict mode (a
misspelled hook or hook argument, an invalid registration: an error, not a warning), then runs
``check_model`` on every model, ``check_dataset`` on every dataset and ``check_evaluator`` on
every evaluator it registered. ``parametrize_with_checks(module)`` hands the same checks to
pytest one by one, so a plugin's whole test file is::

    from genzoo.testing import parametrize_with_checks
    import my_plugin

    @parametrize_with_checks(my_plugin, models={"wae": {"hidden": 16}})
    def test_conforms(check):
        check()
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any
from unittest import mock

from genzoo.core import plugins as plugins_lib
from genzoo.core.errors import GenzooError
from genzoo.core.registry import Registry
from genzoo.data.toy import grid25
from genzoo.testing.datasets import check_dataset
from genzoo.testing.evaluators import check_evaluator
from genzoo.testing.models import MODEL_CHECKS, ConformanceError


def load_strictly(plugin: Any, name: str | None = None) -> Registry:
    """The registry genzoo would build with ``plugin`` installed, in strict mode: anything the
    loader would only warn about raises ``ConformanceError``."""
    name = name or getattr(plugin, "__name__", type(plugin).__name__)
    try:
        with _strict_env():
            registry = plugins_lib.build_registry(extra_plugins=[(name, plugin)])
    except GenzooError as exc:
        raise ConformanceError(f"check_plugin failed for plugin {name!r}: {exc}") from None
    info = registry.plugins.get(name)
    registered = info.registered if info is not None else {}
    if not any(registered.values()):
        raise ConformanceError(f"check_plugin failed for plugin {name!r}: it registered no "
                               f"model, dataset or evaluator (are its hooks decorated with "
                               f"@genzoo.hookimpl?)")
    return registry


def plugin_checks(plugin: Any, *, models: Mapping[str, Mapping[str, Any]] | None = None,
                  dataset_options: Mapping[str, Mapping[str, Any]] | None = None,
                  name: str | None = None) -> list[tuple[str, Callable[[], Any]]]:
    """``(id, check)`` pairs for everything ``plugin`` registers: every model check for each
    model (``models[NAME]``: its config overrides, e.g. small networks), ``check_dataset``
    for each dataset (``dataset_options[NAME]``: its factory's options, e.g. data_dir), and
    ``check_evaluator`` for each evaluator on the first model of the registry it applies to."""
    name = name or getattr(plugin, "__name__", type(plugin).__name__)
    registry = load_strictly(plugin, name)
    mine = registry.plugins[name].registered
    checks: list[tuple[str, Callable[[], Any]]] = []
    for model in mine["models"]:
        cls = registry.model(model)
        overrides = dict((models or {}).get(model, {}))
        checks += [(f"{check}[{model}]", functools.partial(fn, cls, overrides=overrides))
                   for check, fn in MODEL_CHECKS.items()]
    for dataset in mine["datasets"]:
        options = dict((dataset_options or {}).get(dataset, {}))
        checks.append((f"check_dataset[{dataset}]",
                       lambda d=dataset, o=options: check_dataset(registry.dataset(d, **o))))
    for evaluator in mine["evaluators"]:
        checks.append((f"check_evaluator[{evaluator}]",
                       functools.partial(_check_evaluator, registry, evaluator, models or {})))
    return checks


def check_plugin(plugin: Any, **kwargs: Any) -> list[str]:
    """Every check of ``plugin_checks``, in order; returns their ids. The first failure
    raises ``ConformanceError``."""
    checks = plugin_checks(plugin, **kwargs)
    for _, check in checks:
        check()
    return [check_id for check_id, _ in checks]


def parametrize_with_checks(plugin: Any, **kwargs: Any) -> Any:
    """A ``pytest.mark.parametrize`` over ``plugin_checks(plugin, **kwargs)``, one test per
    check (named by its id); the test takes ``check`` and calls it."""
    import pytest

    checks = plugin_checks(plugin, **kwargs)
    return pytest.mark.parametrize("check", [c for _, c in checks],
                                   ids=[i for i, _ in checks])


def _check_evaluator(registry: Registry, evaluator: str,
                     overrides: Mapping[str, Mapping[str, Any]]) -> Any:
    evaluator_cls = registry.evaluator(evaluator)
    datasets = [grid25()]
    for name in registry.datasets.names():  # the plugin's own data, where it builds bare
        try:
            datasets.append(registry.dataset(name))
        except GenzooError:
            continue
    for data in datasets:
        if evaluator_cls().applies_to(data) is not None:
            continue
        for model_name in registry.models.names():
            cls = registry.model(model_name)
            try:
                config = cls.make_config(data.spec, overrides=dict(overrides.get(model_name, {})))
                model = cls(config, data.spec, [0, 1] if cls.vectorized else [0])
            except GenzooError:
                continue
            if evaluator_cls().missing(model, data) is None:
                return check_evaluator(evaluator_cls, model, data)
    raise ConformanceError(f"check_evaluator could not run for evaluator {evaluator!r}: no "
                           f"registered model and dataset it applies to")


def _strict_env() -> Any:
    """GENZOO_STRICT_PLUGINS=1 and no GENZOO_DISABLE_PLUGINS, restored afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "GENZOO_DISABLE_PLUGINS"}
    return mock.patch.dict(os.environ, {**env, "GENZOO_STRICT_PLUGINS": "1"}, clear=True)
