"""The plugin manager: entry points, broken plugins, strict mode, blocking, bad hooks, clashes."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pytest
import torch
from host_helpers import plugin_module, run_cli

import genzoo.data.plugin
from genzoo import hookimpl
from genzoo.core import plugins as plugins_lib
from genzoo.core.errors import GenzooError, PluginError
from genzoo.core.model import Model
from genzoo.core.plugins import build_registry
from genzoo.data.toy import GaussianMixture
from genzoo.evaluators.base import EvalResult, Evaluator


@dataclass
class TinyConfig:
    width: int = 3


def tiny_model(model_name: str) -> type[Model]:
    class Tiny(Model):
        """A model that only exists to be registered."""

        name = model_name
        Config = TinyConfig

    return Tiny


class Constant(Evaluator):
    """Scores every replica 1.0."""

    name = "constant"
    metrics = ("one",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"one": [1.0] * model.replicas})


def registers_model(model_name: str, module_name: str | None = None):
    @hookimpl
    def genzoo_register_models(models):
        models.add(tiny_model(model_name))

    return plugin_module(module_name or f"plugin_{model_name}",
                         genzoo_register_models=genzoo_register_models)


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("GENZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("GENZOO_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GENZOO_DEBUG", raising=False)
    return monkeypatch


@pytest.fixture
def fake_entry_points(clean_env):
    """Replace the installed entry points with modules of our own (put in sys.modules)."""

    def install(**modules):
        eps = []
        for ep_name, module in modules.items():
            if isinstance(module, str):  # a module path that does not import
                eps.append(EntryPoint(ep_name, module, plugins_lib.ENTRY_POINT_GROUP))
                continue
            clean_env.setitem(sys.modules, module.__name__, module)
            eps.append(EntryPoint(ep_name, module.__name__, plugins_lib.ENTRY_POINT_GROUP))

        def entry_points(group=None, **_):
            assert group == plugins_lib.ENTRY_POINT_GROUP
            return eps

        clean_env.setattr(plugins_lib, "entry_points", entry_points)

    return install


def test_all_three_hooks_register_through_a_plugin(clean_env):
    built = []

    def factory(**options):
        built.append(options)
        return GaussianMixture("dot", torch.zeros(1, 2), std=0.1)

    @hookimpl
    def genzoo_register_models(models):
        models.add(tiny_model("tiny"))

    @hookimpl
    def genzoo_register_datasets(datasets):
        datasets.add("dot", factory, description="one point")

    @hookimpl
    def genzoo_register_evaluators(evaluators):
        evaluators.add(Constant)

    module = plugin_module("three", genzoo_register_models=genzoo_register_models,
                           genzoo_register_datasets=genzoo_register_datasets,
                           genzoo_register_evaluators=genzoo_register_evaluators)
    reg = build_registry(extra_plugins=[("three", module)], use_entry_points=False)
    assert reg.models.names() == ["tiny"] and reg.model("tiny").name == "tiny"
    assert reg.evaluator("constant") is Constant
    assert built == []  # dataset factories run only when a dataset is used
    assert reg.dataset("dot", data_dir="/x").spec.name == "dot" and built == [{"data_dir": "/x"}]
    assert reg.plugins["three"].registered == {"models": ["tiny"], "datasets": ["dot"],
                                               "evaluators": ["constant"]}
    listing = reg.as_dict()
    assert {m["name"]: m["plugin"] for m in listing["models"]} == {"tiny": "three"}
    assert listing["datasets"][0]["description"] == "one point"
    assert listing["evaluators"][0]["description"] == "Scores every replica 1.0."


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_work(fake_entry_points, capsys):
    fake_entry_points(good=registers_model("good"), broken="genzoo_no_such_module_xyz")
    reg = build_registry()
    assert reg.models.names() == ["good"]
    assert reg.plugins["broken"].error.startswith("ModuleNotFoundError")
    assert "genzoo_no_such_module_xyz" in reg.plugins["broken"].error
    assert reg.plugins["good"].error is None
    err = capsys.readouterr().err
    assert "plugin 'broken'" in err and "failed to import" in err and "skipped" in err
    assert "Traceback" not in err
    broken = next(p for p in reg.as_dict()["plugins"] if p["name"] == "broken")
    assert broken["error"] == reg.plugins["broken"].error


def test_strict_mode_makes_a_broken_plugin_fatal(fake_entry_points, clean_env):
    fake_entry_points(good=registers_model("good"), broken="genzoo_no_such_module_xyz")
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken'.*failed to import.*"
                                          "ModuleNotFoundError"):
        build_registry()


@pytest.mark.parametrize("value", ["", "0"])
def test_strict_mode_is_off_unless_set(fake_entry_points, clean_env, value):
    fake_entry_points(broken="genzoo_no_such_module_xyz")
    clean_env.setenv("GENZOO_STRICT_PLUGINS", value)
    assert build_registry().plugins["broken"].error


def test_a_plugin_raising_in_its_hook_is_skipped_without_its_half_registrations(
        fake_entry_points, clean_env, capsys):
    @hookimpl
    def genzoo_register_models(models):
        models.add(tiny_model("half"))
        raise RuntimeError("disk on fire")

    fake_entry_points(good=registers_model("good"),
                      flaky=plugin_module("flaky", genzoo_register_models=genzoo_register_models))
    reg = build_registry()
    assert reg.models.names() == ["good"]
    assert reg.plugins["flaky"].error == "RuntimeError: disk on fire"
    assert "plugin 'flaky'" in capsys.readouterr().err
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="flaky.*raised in genzoo_register_models.*disk on fire"):
        build_registry()


def test_disable_plugins_blocks_by_entry_point_name(fake_entry_points, clean_env, capsys):
    fake_entry_points(a=registers_model("a"), b="genzoo_no_such_module_xyz",
                      c=registers_model("c"))
    clean_env.setenv("GENZOO_DISABLE_PLUGINS", " a, b ")
    reg = build_registry(extra_plugins=[("a", registers_model("also_a"))])
    assert reg.models.names() == ["c"]
    # b is never imported, so it cannot fail; a and b are listed as disabled
    assert {n for n, p in reg.plugins.items() if p.disabled} == {"a", "b"}
    assert not reg.plugins["b"].error and not reg.plugins["c"].disabled
    assert capsys.readouterr().err == ""


def test_disabling_a_plugin_that_is_not_installed_says_so(fake_entry_points, clean_env,
                                                          capsys):
    fake_entry_points(alpha=registers_model("a"))
    clean_env.setenv("GENZOO_DISABLE_PLUGINS", "alpah")
    reg = build_registry()
    assert reg.models.names() == ["a"]
    err = capsys.readouterr().err
    assert "names 'alpah', which is not an installed plugin" in err
    assert "did you mean 'alpha'?" in err


def test_genzoo_plugins_lists_disabled_plugins(fake_entry_points, clean_env, capsys):
    fake_entry_points(alpha=registers_model("a"), beta=registers_model("b"))
    clean_env.setenv("GENZOO_DISABLE_PLUGINS", "beta")
    plugins_lib.reset()
    try:
        assert run_cli(["plugins", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
    finally:
        plugins_lib.reset()
    rows = {p["name"]: p for p in data["plugins"]}
    assert rows["beta"]["disabled"] and not rows["alpha"]["disabled"]


def test_a_hookimpl_matching_no_hookspec_skips_that_plugin_with_a_did_you_mean(
        clean_env, capsys):
    @hookimpl
    def genzoo_register_modles(models):  # a typo
        models.add("typo_model", object)

    module = plugin_module("typo", genzoo_register_modles=genzoo_register_modles)
    reg = build_registry(extra_plugins=[("typo", module), ("ok", registers_model("fine"))],
                         use_entry_points=False)
    assert reg.models.names() == ["fine"]  # the other plugin still loads
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'typo'" in err
    assert "genzoo_register_modles" in err and "did you mean genzoo_register_models?" in err
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'typo'.*did you mean"):
        build_registry(extra_plugins=[("typo", module)], use_entry_points=False)


def test_a_hookimpl_with_wrong_arguments_skips_the_plugin_with_pluggys_detail(
        clean_env, capsys):
    @hookimpl
    def genzoo_register_models(registry):  # the spec's argument is `models`
        pass

    module = plugin_module("wrongargs", genzoo_register_models=genzoo_register_models)
    reg = build_registry(extra_plugins=[("wrongargs", module)], use_entry_points=False)
    assert reg.plugins["wrongargs"].error
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'wrongargs'" in err and "is invalid" in err
    assert "Argument(s) {'registry'} are declared in the hookimpl" in err


def test_a_name_clash_keeps_the_first_owner_and_skips_the_newcomer_naming_both(
        fake_entry_points, clean_env, capsys):
    fake_entry_points(first=registers_model("same", "plugin_first"),
                      second=registers_model("same", "plugin_second"))
    reg = build_registry()
    assert reg.models.get("same").owner == "first"
    assert reg.plugins["second"].error and not reg.plugins["second"].registered["models"]
    message = capsys.readouterr().err
    assert "model 'same'" in message and "'first'" in message and "'second'" in message
    assert "clashes with an earlier plugin" in message and "skipped" in message
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")  # strict: fatal
    with pytest.raises(PluginError, match="registered twice: by plugin 'first' and by "
                                          "plugin 'second'"):
        build_registry()


def test_one_module_under_two_entry_point_names_is_an_error_naming_both(fake_entry_points):
    module = registers_model("once")
    fake_entry_points(alpha=module, beta=module)
    with pytest.raises(PluginError, match="plugin 'beta' is the same module as plugin 'alpha'"):
        build_registry()


@pytest.mark.parametrize("kind", ["dataset", "evaluator"])
def test_duplicate_datasets_and_evaluators_are_errors_too(clean_env, kind):
    if kind == "dataset":
        @hookimpl
        def genzoo_register_datasets(datasets):
            datasets.add("grid25", lambda **_: None)

        module = plugin_module("dup", genzoo_register_datasets=genzoo_register_datasets)
    else:
        @hookimpl
        def genzoo_register_evaluators(evaluators):
            evaluators.add(Constant)

        module = plugin_module("dup", genzoo_register_evaluators=genzoo_register_evaluators)
    first = ("core-datasets", genzoo.data.plugin) if kind == "dataset" else (
        "first", plugin_module("first", genzoo_register_evaluators=genzoo_register_evaluators))
    reg = build_registry(extra_plugins=[first, ("dup", module)], use_entry_points=False)
    assert reg.plugins["dup"].error and "registered twice" in reg.plugins["dup"].error
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=f"{kind} .* registered twice: by plugin "
                                          f"'{first[0]}' and by plugin 'dup'"):
        build_registry(extra_plugins=[first, ("dup", module)], use_entry_points=False)


def test_registering_something_that_is_not_a_model_is_an_error(clean_env):
    @hookimpl
    def genzoo_register_models(models):
        models.add(object)

    module = plugin_module("wrong", genzoo_register_models=genzoo_register_models)
    reg = build_registry(extra_plugins=[("wrong", module)], use_entry_points=False)
    assert "must subclass genzoo.Model" in reg.plugins["wrong"].error  # skipped, named
    clean_env.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'wrong' registered .* must subclass genzoo.Model"):
        build_registry(extra_plugins=[("wrong", module)], use_entry_points=False)


def test_a_plugin_that_exits_at_import_or_fails_late_is_skipped_whole(clean_env, capsys):
    @hookimpl
    def genzoo_register_models(models):
        models.add(tiny_model("kept-then-dropped"))

    @hookimpl
    def genzoo_register_datasets(datasets):
        raise RuntimeError("disk on fire")

    module = plugin_module("half", genzoo_register_models=genzoo_register_models,
                           genzoo_register_datasets=genzoo_register_datasets)
    reg = build_registry(extra_plugins=[("half", module)], use_entry_points=False)
    assert "kept-then-dropped" not in reg.models  # its earlier hook's model is gone too
    assert "disk on fire" in reg.plugins["half"].error
    assert "skipped" in capsys.readouterr().err


def test_unknown_names_suggest_the_closest(clean_env):
    reg = build_registry(extra_plugins=[("m", registers_model("gaussian"))],
                         use_entry_points=False)
    with pytest.raises(GenzooError, match="unknown model 'gausian'; did you mean gaussian"):
        reg.model("gausian")


def test_the_real_entry_points_hold_the_bundled_plugins(clean_env):
    reg = build_registry()
    bundled = {n for n, p in reg.plugins.items() if p.distribution == "genzoo"}
    assert {"gan", "vae", "core-datasets"} <= bundled
    assert all(reg.plugins[n].error is None for n in bundled)
    assert {"gan", "vae"} <= set(reg.models.names())
    assert {"grid25", "ring8"} <= set(reg.datasets.names())


def test_the_registry_is_built_once_and_reset_forgets_it(clean_env):
    plugins_lib.reset()
    first = plugins_lib.registry()
    assert plugins_lib.registry() is first
    plugins_lib.reset()
    assert plugins_lib.registry() is not first


def test_a_plugin_calling_sys_exit_at_import_is_skipped_not_fatal(fake_entry_points, clean_env,
                                                                   tmp_path, capsys):
    (tmp_path / "genzoo_exits_at_import.py").write_text("import sys\nsys.exit(3)\n")
    clean_env.syspath_prepend(str(tmp_path))
    fake_entry_points(good=registers_model("good"), quitter="genzoo_exits_at_import")
    reg = build_registry()
    assert reg.models.names() == ["good"]
    assert reg.plugins["quitter"].error.startswith("SystemExit")
    assert "plugin 'quitter'" in capsys.readouterr().err


def test_a_local_plugin_replaces_the_installed_one_of_its_name(fake_entry_points, clean_env,
                                                               capsys):
    fake_entry_points(iso=registers_model("iso_released", "plugin_installed"))
    working_copy = registers_model("iso_working_copy", "plugin_working_copy")
    reg = build_registry(extra_plugins=[("iso", working_copy)])
    assert reg.models.names() == ["iso_working_copy"]  # the installed one was not loaded
    assert reg.plugins["iso"].distribution == "<local>" and not reg.plugins["iso"].error
    assert capsys.readouterr().err == ""
