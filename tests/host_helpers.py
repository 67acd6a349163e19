"""Helpers shared by the host tests (imported as a plain module; pytest puts tests/ on the path)."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any

from genzoo import cli
from genzoo.core import plugins
from genzoo.core.model import Model
from genzoo.core.registry import Registry


def small_overrides(model_cls: type[Model]) -> dict[str, Any]:
    """Shrink a bundled model's networks so a test trains it in a fraction of a second.

    Works from the field names the toy models share (``*hidden``, ``*units``, ``*layers``,
    ``*pieces``), so models that land later are covered without editing this file.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(model_cls.Config):
        default = f.default
        if not isinstance(default, int) or isinstance(default, bool):
            continue
        if f.name.endswith(("hidden", "units", "width")) and default > 16:
            out[f.name] = 16
        elif f.name.endswith("layers") and default > 2:
            out[f.name] = 2
        elif f.name.endswith("pieces") and default > 2:
            out[f.name] = 2
    return out


def set_args(overrides: dict[str, Any]) -> list[str]:
    """``{"hidden": 16}`` -> ``["--set", "hidden=16"]`` for the CLI."""
    args: list[str] = []
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    return args


def plugin_module(name: str, **hooks: Any) -> types.ModuleType:
    """A module object holding the given hook implementations, as a plugin's module would."""
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, fn)
    return module


def use_registry(monkeypatch: Any, extra_plugins: list[tuple[str, Any]]) -> Registry:
    """Build the registry with ``extra_plugins`` and make it the one the CLI sees, with the
    plugin environment variables cleared."""
    for var in ("GENZOO_STRICT_PLUGINS", "GENZOO_DISABLE_PLUGINS", "GENZOO_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    reg = plugins.build_registry(extra_plugins=extra_plugins)
    monkeypatch.setattr(plugins, "_registry", reg)  # what the CLI's plugins.registry() returns
    return reg


def run_cli(args: list[str]) -> int:
    """Run the CLI in-process; its exit code."""
    try:
        cli.main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def assert_compare_refuses(args: list[str], message: str, out: Path, capsys: Any) -> None:
    """`genzoo compare ARGS --out OUT` exits 2 with one line containing ``message`` and
    creates nothing."""
    assert run_cli(["compare", *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()
