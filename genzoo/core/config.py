"""Config dataclasses: building them from presets and ``--set key=value`` strings, and JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, TypeVar

from genzoo.core.errors import GenzooError

C = TypeVar("C")


def field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def _coerce(name: str, text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
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
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(merged) - names
    if unknown:
        raise GenzooError(f"unknown setting(s) {', '.join(sorted(unknown))} for "
                          f"{config_cls.__name__}")
    bounds = {f.name: f.metadata for f in dataclasses.fields(config_cls)}
    for key, value in merged.items():
        check_value(key, value, **{k: v for k, v in bounds[key].items()
                                   if k in ("minimum", "below")})
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


def to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(config_cls: type[C], data: dict[str, Any]) -> C:
    types_ = field_types(config_cls)
    kwargs = {}
    for key, value in data.items():
        if key not in types_:
            continue  # a setting removed since the run was made: ignore, keep loading
        if isinstance(value, list):
            value = tuple(value) if typing.get_origin(types_[key]) is tuple else value
        kwargs[key] = value
    return config_cls(**kwargs)
