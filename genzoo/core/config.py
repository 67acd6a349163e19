"""Config dataclasses: building them from presets and ``--set key=value`` strings, and JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from genzoo.core.errors import GenzooError

C = TypeVar("C")

MAX_SEEDS = 100_000  # seeds in one run or per model of a compare: each copies every network


def field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def _coerce(name: str, text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(name, text, arg)
            except GenzooError:
                continue
        raise GenzooError(f"setting {name}={text!r} does not fit type {tp}")
    if origin is typing.Literal:
        if text in [str(a) for a in args]:
            return next(a for a in args if str(a) == text)
        raise GenzooError(f"setting {name}={text!r} must be one of "
                          f"{', '.join(str(a) for a in args)}")
    if origin in (tuple, list):
        parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
        inner = args[0] if args else str
        return origin(_coerce(name, p.strip(), inner) for p in parts)
    try:
        if tp is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
        if tp is str:
            return text
    except ValueError:
        raise GenzooError(f"setting {name}={text!r} is not a valid {tp.__name__}") from None
    raise GenzooError(f"setting {name} has type {tp} which cannot be set from the command line")


def parse_overrides(config_cls: type, items: list[str]) -> dict[str, Any]:
    """Turn ``["lr=2e-4", "batchnorm=false"]`` into typed values for ``config_cls``."""
    types_ = field_types(config_cls)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise GenzooError(f"--set {item!r} must look like KEY=VALUE")
        if key not in types_:
            import difflib

            close = difflib.get_close_matches(key, types_, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise GenzooError(f"unknown setting {key!r} for {config_cls.__name__}{hint} "
                              f"(settings: {', '.join(types_)})")
        out[key] = _coerce(key, value.strip(), types_[key])
    return out


def build(config_cls: type[C], *layers: dict[str, Any]) -> C:
    """Instantiate ``config_cls`` from defaults, then each layer of overrides in order."""
    merged = {k: v for layer in layers for k, v in layer.items()}
    meta = {f.name: f.metadata for f in dataclasses.fields(config_cls)}
    unknown = set(merged) - set(meta)
    if unknown:
        raise GenzooError(f"unknown setting(s) {', '.join(sorted(unknown))} for "
                          f"{config_cls.__name__}")
    for key, value in merged.items():
        check_value(key, value, meta[key].get("minimum"), meta[key].get("below"))
    return config_cls(**merged)


def bounded(default: Any, *, minimum: float | None = None, below: float | None = None) -> Any:
    """A config field whose value must be ≥ ``minimum`` and < ``below``: ``--set`` outside the
    range is refused in one line (``disc_layers: int = bounded(3, minimum=1)``)."""
    return dataclasses.field(default=default, metadata={"minimum": minimum, "below": below})


# settings that are rates, sizes or counts of something: zero or below never trains
_POSITIVE = ("lr", "lr_d", "z_dim", "batch_size", "steps", "image_width", "decoder_hidden",
             "encoder_hidden", "disc_units", "disc_branch_units")


def check_value(key: str, value: Any, minimum: float | None = None,
                below: float | None = None) -> None:
    """Refuse what no setting can mean: NaN or infinite numbers, a learning rate, width or
    count that is not positive (``--set lr=-1``, ``z_dim=0``), and a value outside the range a
    field declares with ``bounded``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not math.isfinite(value):
        raise GenzooError(f"setting {key}={value} is not a finite number")
    if key in _POSITIVE and value <= 0:
        raise GenzooError(f"setting {key}={value} must be positive")
    if minimum is not None and value < minimum:
        raise GenzooError(f"setting {key}={value} must be at least {minimum}")
    if below is not None and value >= below:
        raise GenzooError(f"setting {key}={value} must be below {below}")


def parse_options(options_cls: type[C], owner: str, raw: Mapping[str, Any]) -> C:
    """``options_cls`` (a dataclass of typed, defaulted fields) from ``raw``, the options a
    user gave (strings from ``--eval-option KEY=VALUE``, or values from a TOML file or a
    program); keys it has no field for belong to someone else and are skipped. A value of the
    wrong type or out of its ``bounded`` range is one line naming ``owner``, the option and
    what it takes."""
    types_ = field_types(options_cls)
    meta = {f.name: f.metadata for f in dataclasses.fields(options_cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in types_:
            continue
        tp = types_[key]
        takes = _takes(tp, meta[key])
        try:
            typed = _coerce(key, value, tp) if isinstance(value, str) else _typed(value, tp)
            check_value(key, typed, meta[key].get("minimum"), meta[key].get("below"))
        except (GenzooError, ValueError, TypeError):
            raise GenzooError(f"{owner}: option {key}={value!r} is not valid; it takes "
                              f"{takes}") from None
        values[key] = typed
    return options_cls(**values)


def _typed(value: Any, tp: Any) -> Any:
    """A non-string value as type ``tp``; ValueError when it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _typed(value, arg)
            except ValueError:
                continue
        raise ValueError(value)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and float(value).is_integer():
        return int(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        inner = [a for a in args if a is not Ellipsis]
        return origin(_typed(v, inner[0]) if inner else v for v in value)
    if tp is Any or tp is object:
        return value
    raise ValueError(value)


def check_recorded(config_cls: type, data: Mapping[str, Any], where: str) -> None:
    """Refuse, in one line naming ``where``, a recorded value (config.json, a TOML file) whose
    type does not fit ``config_cls``'s field: a hand edit should not become an internal error
    deep inside a model."""
    types_ = field_types(config_cls)
    meta = {f.name: f.metadata for f in dataclasses.fields(config_cls)}
    for key, value in data.items():
        if key not in types_:
            continue
        try:
            _typed(value, types_[key])
        except (ValueError, TypeError):
            raise GenzooError(f"{where}: {key} is {value!r:.60}, but it takes "
                              f"{_takes(types_[key], meta[key])}") from None


def _takes(tp: Any, meta: Mapping[str, Any]) -> str:
    """What a field takes, for a message: "an integer >= 2", "true or false", ..."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return " or ".join([_takes(a, meta) for a in inner] + ["none"] * (len(inner) < len(args)))
    if origin in (tuple, list):
        return "a list"
    name = {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(
        tp, str(tp))
    low, below = meta.get("minimum"), meta.get("below")
    if tp is int and low is not None and below is not None:
        return f"{name} in {low}..{below - 1}"
    if low is not None:
        name += f" >= {low:g}"
    if below is not None:
        name += f" below {below:g}"
    return name


def to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(config_cls: type[C], data: dict[str, Any]) -> C:
    types_ = field_types(config_cls)  # a key it lacks: a setting removed since; skipped
    return config_cls(**{k: tuple(v) if isinstance(v, list)
                         and typing.get_origin(types_[k]) is tuple else v
                         for k, v in data.items() if k in types_})
