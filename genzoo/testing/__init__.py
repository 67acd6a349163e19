"""Conformance checks for genzoo plugins, in the spirit of scikit-learn's ``check_estimator``.

A plugin author calls them from their own tests::

    from genzoo.testing import check_evaluator, check_model

    def test_my_model_conforms():
        check_model(MyModel, overrides={"hidden": 16})  # small networks keep it fast

    def test_my_evaluator_conforms():
        check_evaluator(MyEvaluator, my_trained_or_fresh_model)

    def test_my_dataset_conforms():
        check_dataset(MyDataset())

or checks everything a plugin registers, loaded through its hooks in strict mode, one pytest
test per check::

    @parametrize_with_checks(my_plugin, models={"my-model": {"hidden": 16}})
    def test_conforms(check):
        check()

``check_model`` runs every check in ``MODEL_CHECKS``; each is also a function of its own with
the same arguments (``check_resume(MyModel, overrides=...)``), so a test can be parametrized
over ``MODEL_CHECKS``. A failure raises ``ConformanceError`` (an ``AssertionError``) whose
message names the check, the model and what was wrong.

The checks use only the public contract of the host: ``genzoo.Model``'s methods, the
``Trainer`` and the ``Run`` checkpoint path. Nothing here knows a model by name. The model
checks live in ``genzoo.testing.models``, the evaluator check in ``genzoo.testing.evaluators``,
the dataset check in ``genzoo.testing.datasets``, the plugin-level ones in
``genzoo.testing.plugins``; import them from here.
"""

from genzoo.testing.datasets import check_dataset
from genzoo.testing.evaluators import check_evaluator
from genzoo.testing.models import (
    MODEL_CHECKS,
    ConformanceError,
    check_builds,
    check_capabilities,
    check_config,
    check_declaration,
    check_model,
    check_reproducible,
    check_resume,
    check_save_reload,
    check_seeds_independent,
    check_trains,
)
from genzoo.testing.plugins import check_plugin, parametrize_with_checks, plugin_checks

__all__ = [
    "ConformanceError", "MODEL_CHECKS", "check_model", "check_evaluator", "check_dataset",
    "check_plugin", "parametrize_with_checks", "plugin_checks",
    "check_declaration", "check_config", "check_builds", "check_trains",
    "check_capabilities", "check_save_reload", "check_resume", "check_reproducible",
    "check_seeds_independent",
]
