"""What plugins register into. Each registry refuses duplicate names and names both owners."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from genzoo.core.errors import GenzooError, PluginError

if TYPE_CHECKING:
    from genzoo.core.model import Model
    from genzoo.data.base import Dataset
    from genzoo.evaluators.base import Evaluator

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered thing: its name, the object, and the plugin that registered it."""

    name: str
    obj: T
    owner: str
    description: str = ""


@dataclass
class _NamedRegistry(Generic[T]):
    kind: str  # "model", "dataset" or "evaluator": used in error messages
    entries: dict[str, Entry[T]] = field(default_factory=dict)
    owner: str = "<direct>"  # set by the plugin manager while a plugin's hook runs

    def _add(self, name: str, obj: T, description: str) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise PluginError(f"plugin {self.owner!r} registered a {self.kind} with an invalid "
                              f"name {name!r}; use a non-empty string")
        if name in self.entries:
            first = self.entries[name].owner
            raise PluginError(f"{self.kind} {name!r} is registered twice: by plugin {first!r} "
                              f"and by plugin {self.owner!r}; block one with "
                              f"GENZOO_DISABLE_PLUGINS={self.owner}")
        self.entries[name] = Entry(name, obj, self.owner, description)

    def get(self, name: str) -> Entry[T]:
        try:
            return self.entries[name]
        except KeyError:
            same_but_case = [n for n in self.entries if n.lower() == str(name).lower()]
            close = same_but_case or difflib.get_close_matches(str(name).lower(), self.entries,
                                                               n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self.entries)) or "none"
            raise GenzooError(f"unknown {self.kind} {name!r}{hint} (known: {known}; "
                              f"`genzoo plugins` lists them)") from None

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self.entries[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)


class ModelRegistry(_NamedRegistry["type[Model]"]):
    """Model classes by name. Passed to ``genzoo_register_models``."""

    def __init__(self) -> None:
        super().__init__("model")

    def add(self, model_cls: type[Model], description: str | None = None) -> None:
        """Register a ``genzoo.Model`` subclass under its ``name`` attribute."""
        from genzoo.core.model import Model

        if not (isinstance(model_cls, type) and issubclass(model_cls, Model)):
            raise PluginError(f"plugin {self.owner!r} registered {model_cls!r} as a model; "
                              f"models must subclass genzoo.Model")
        model_cls.check_declaration()
        doc = description if description is not None else _first_line(model_cls.__doc__)
        self._add(model_cls.name, model_cls, doc)


class DatasetRegistry(_NamedRegistry["Callable[..., Dataset]"]):
    """Dataset factories by name. Passed to ``genzoo_register_datasets``."""

    def __init__(self) -> None:
        super().__init__("dataset")

    def add(self, name: str, factory: Callable[..., Dataset], description: str = "") -> None:
        """Register ``factory(**options) -> Dataset`` under ``name``."""
        if not callable(factory):
            raise PluginError(f"plugin {self.owner!r} registered dataset {name!r} with a "
                              f"factory that is not callable")
        self._add(name, factory, description or _first_line(factory.__doc__))


class EvaluatorRegistry(_NamedRegistry["type[Evaluator]"]):
    """Evaluator classes by name. Passed to ``genzoo_register_evaluators``."""

    def __init__(self) -> None:
        super().__init__("evaluator")

    def add(self, evaluator_cls: type[Evaluator], description: str | None = None) -> None:
        """Register a ``genzoo.evaluators.Evaluator`` subclass under its ``name`` attribute."""
        # issubclass without importing the evaluators layer (the core imports nothing above
        # it): the base class is found in the class's MRO by where it is defined
        if not (isinstance(evaluator_cls, type) and any(
                (c.__module__, c.__qualname__) == ("genzoo.evaluators.base", "Evaluator")
                for c in evaluator_cls.__mro__)):
            raise PluginError(f"plugin {self.owner!r} registered {evaluator_cls!r} as an "
                              f"evaluator; evaluators must subclass genzoo.evaluators.Evaluator")
        doc = description if description is not None else _first_line(evaluator_cls.__doc__)
        self._add(evaluator_cls.name, evaluator_cls, doc)


@dataclass
class PluginInfo:
    """A plugin as loaded: where it came from and what it registered (or why it failed)."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(
        default_factory=lambda: {"models": [], "datasets": [], "evaluators": []})
    error: str | None = None
    disabled: bool = False  # named in GENZOO_DISABLE_PLUGINS: listed, never imported

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                **self.registered, "error": self.error, "disabled": self.disabled}


@dataclass
class Registry:
    """Everything the loaded plugins registered, plus the plugins themselves."""

    models: ModelRegistry = field(default_factory=ModelRegistry)
    datasets: DatasetRegistry = field(default_factory=DatasetRegistry)
    evaluators: EvaluatorRegistry = field(default_factory=EvaluatorRegistry)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)

    def model(self, name: str) -> type[Model]:
        return self.models.get(name).obj

    def dataset(self, name: str, **options: Any) -> Dataset:
        """Build dataset ``name``. A name ``PREFIX:ARG`` whose ``PREFIX:`` is registered (like
        ``folder:PATH``) calls that factory with ``spec=ARG``."""
        prefix, sep, spec = name.partition(":")
        if sep and prefix + ":" in self.datasets:
            return self.datasets.get(prefix + ":").obj(spec=spec, **options)
        return self.datasets.get(name).obj(**options)

    def evaluator(self, name: str) -> type[Evaluator]:
        return self.evaluators.get(name).obj

    def whose(self, kind: str, name: str) -> str:
        """Who registered ``kind`` (models, datasets, evaluators) ``name``, for a message:
        "plugin 'wae' (genzoo-wae 0.2.0)"."""
        owner = getattr(self, kind).get(name).owner
        info = self.plugins.get(owner)
        where = f" ({info.distribution} {info.version})" if info is not None else ""
        return f"plugin {owner!r}{where}"

    def as_dict(self) -> dict[str, Any]:
        def rows(reg: _NamedRegistry[Any]) -> list[dict[str, str]]:
            return [{"name": e.name, "plugin": e.owner, "description": e.description}
                    for e in reg]

        return {"plugins": [p.as_dict() for p in self.plugins.values()],
                "models": rows(self.models), "datasets": rows(self.datasets),
                "evaluators": rows(self.evaluators)}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
