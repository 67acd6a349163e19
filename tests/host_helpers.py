"""Helpers shared by the host tests (imported as a plain module; pytest puts tests/ on the path)."""

from __future__ import annotations

import dataclasses
import types
from typing import Any

from genzoo.model import Model


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
