"""The plugin manager: loads entry points, isolates broken plugins, blocks on request.

Bundled plugins are found through the ``genzoo`` entry-point group exactly like third-party
ones; this module imports none of them by name.

Environment:
- ``GENZOO_DISABLE_PLUGINS=a,b``: entry points named a and b are not loaded (pluggy-blocked).
- ``GENZOO_STRICT_PLUGINS=1``: a plugin that fails to import or register is fatal instead of
  being reported and skipped.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import traceback
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from genzoo.core import hookspecs
from genzoo.core.errors import PluginError
from genzoo.core.registry import PluginInfo, Registry

ENTRY_POINT_GROUP = "genzoo"

# hook name -> (registry attribute, key in PluginInfo.registered)
_REGISTER_HOOKS = {
    "genzoo_register_models": "models",
    "genzoo_register_datasets": "datasets",
    "genzoo_register_evaluators": "evaluators",
}

_registry: Registry | None = None


def blocked_names() -> set[str]:
    return {n.strip() for n in os.environ.get("GENZOO_DISABLE_PLUGINS", "").split(",")
            if n.strip()}


def strict() -> bool:
    return os.environ.get("GENZOO_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"], dist.version


def build_registry(extra_plugins: Iterable[tuple[str, Any]] = (),
                   use_entry_points: bool = True) -> Registry:
    """Load plugins and let each register into a fresh ``Registry``.

    ``extra_plugins`` are ``(name, module_or_object)`` pairs registered after the entry
    points, for tests and for programs embedding genzoo; one named like an installed entry
    point is used instead of it.
    """
    extra_plugins = list(extra_plugins)
    # a plugin handed in by name replaces the installed entry point of that name: a plugin's
    # own tests run its working copy even where the plugin is also installed
    local = {name for name, _ in extra_plugins}
    registry = Registry()
    pm = new_plugin_manager()
    blocked = blocked_names()
    for name in blocked:
        pm.set_blocked(name)

    candidates: list[tuple[str, Any]] = []
    if use_entry_points:
        # genzoo's own plugins first: on a name clash the first registered keeps the name
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP),
                     key=lambda e: (_distribution(e)[0] != "genzoo", e.name))
        for ep in eps:
            if ep.name in registry.plugins or (ep.name in local and ep.name not in blocked):
                continue
            dist, version = _distribution(ep)
            info = registry.plugins[ep.name] = PluginInfo(ep.name, dist, version,
                                                          disabled=ep.name in blocked)
            if info.disabled:
                continue
            try:
                candidates.append((ep.name, ep.load()))
            except (Exception, SystemExit) as exc:  # a broken plugin must not take the
                _fail(info, exc, "failed to import")  # others down, nor end the command
    for name, plugin in extra_plugins:
        if name in blocked:
            continue
        registry.plugins[name] = PluginInfo(name, "<local>", "")
        candidates.append((name, plugin))

    if use_entry_points:
        for name in sorted(blocked - set(registry.plugins)):
            installed = sorted(registry.plugins)
            close = difflib.get_close_matches(name, installed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            print(f"warning: GENZOO_DISABLE_PLUGINS names {name!r}, which is not an installed "
                  f"plugin (installed: {', '.join(installed)}){hint}", file=sys.stderr)

    for name, plugin in candidates:
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            _fail(registry.plugins[name], exc, "is invalid")
        except ValueError as exc:  # pluggy: the same module under a second entry-point name
            first = next((n for n, p in pm.list_name_plugin() if p is plugin), "?")
            raise PluginError(f"plugin {name!r} is the same module as plugin {first!r}; give "
                              f"it one entry point, or block one with "
                              f"GENZOO_DISABLE_PLUGINS={name}") from exc
    while True:  # a hookimpl that matches no hookspec: that plugin is skipped whole
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            owner = pm.get_name(exc.plugin) if exc.plugin is not None else None
            if owner is None or owner not in registry.plugins:
                raise PluginError(f"a plugin declares an unknown hook: {_one_line(exc)}") \
                    from exc
            pm.unregister(exc.plugin)
            _fail(registry.plugins[owner], exc, "declares a hook genzoo does not have",
                  hint=_hook_hint(str(exc)))

    for hook_name, attr in _REGISTER_HOOKS.items():
        sub = getattr(registry, attr)
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = registry.plugins[impl.plugin_name]
            if info.error:
                continue
            sub.owner = impl.plugin_name
            before = set(sub.entries)
            try:
                impl.function(sub)
            except (Exception, SystemExit) as exc:  # a clash, an invalid declaration, a bug
                what = ("clashes with an earlier plugin" if "registered twice" in str(exc)
                        else "registered something invalid" if isinstance(exc, PluginError)
                        else f"raised in {hook_name}")
                for added in set(sub.entries) - before:  # its half-done registrations
                    del sub.entries[added]
                _drop(registry, info)  # and what its earlier hooks registered: skipped whole
                _fail(info, exc, what)
                continue
            finally:
                sub.owner = "<direct>"
            info.registered[attr].extend(sorted(set(sub.entries) - before))
    return registry


def _drop(registry: Registry, info: PluginInfo) -> None:
    """Remove everything ``info``'s plugin registered so far."""
    for attr, names in info.registered.items():
        sub = getattr(registry, attr)
        for name in names:
            if name in sub.entries and sub.entries[name].owner == info.name:
                del sub.entries[name]
        names.clear()


def _one_line(exc: BaseException) -> str:
    """pluggy's messages span lines (the detail last): all of it, on one line."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _hook_hint(message: str) -> str:
    """``did you mean genzoo_register_models?`` for a hook name that is nearly right."""
    m = re.search(r"unknown hook '([^']+)'", message)
    if not m:
        return ""
    names = [n for n in dir(hookspecs) if n.startswith("genzoo_")]
    close = difflib.get_close_matches(m.group(1), names, n=1, cutoff=0.5)
    return (f"did you mean {close[0]}?" if close else
            f"genzoo's hooks are {', '.join(names)}")


def _fail(info: PluginInfo, exc: BaseException, what: str, hint: str = "") -> None:
    """Record a plugin's failure; raise in strict mode, else warn."""
    info.error = f"{type(exc).__name__}: {_one_line(exc)}" + (f"; {hint}" if hint else "")
    message = f"plugin {info.name!r} ({info.distribution}) {what}: {info.error}"
    if strict():
        raise PluginError(f"{message}; unset GENZOO_STRICT_PLUGINS to skip it") from exc
    print(f"warning: {message}; it is skipped (GENZOO_DISABLE_PLUGINS={info.name} hides this)",
          file=sys.stderr)
    if os.environ.get("GENZOO_DEBUG"):
        traceback.print_exception(exc)


def registry() -> Registry:
    """The process-wide registry, built once from the entry points."""
    global _registry
    if _registry is None:
        _registry = build_registry()
    return _registry


def reset() -> None:
    """Forget the cached registry (tests, or after installing a plugin at run time)."""
    global _registry
    _registry = None
