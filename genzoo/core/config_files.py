"""Runs and compares described by a file: `train --config FILE`, `compare --config FILE`.

A TOML file names what the command line would::

    model = "ali"
    dataset = "grid25"        # a toy mixture or an image dataset
    preset = "default"
    seeds = [0, 1, 2]         # or a count: 3 means 0, 1, 2
    steps = 1500
    batch_size = 100
    precision = "fp32"
    [settings]                # any field of the model's Config, as --set would
    lr = 2e-4

A run's own ``config.json`` holds the same (its whole model config, seeds, training settings
and data options), so ``genzoo train --config RUN/config.json --out NEW`` trains that run
again; on a CPU the result is bit-identical. Options given on the command line win over the
file's values, and the new run's config.json records the file and which options overrode it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.core.errors import GenzooError, what_is

TOML_KEYS = {"model", "dataset", "preset", "seeds", "steps", "batch_size", "precision",
             "log_every", "checkpoint_every", "checkpoint_minutes", "settings", "data_dir"}
TRAIN_KEYS = ("steps", "batch_size", "precision", "log_every", "checkpoint_every",
              "checkpoint_minutes")


@dataclass
class TrainSpec:
    path: Path
    model: str
    dataset: str
    preset: str = "default"
    seeds: list[int] | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # model Config values
    train: dict[str, Any] = field(default_factory=dict)  # TrainSettings values
    data_options: dict[str, Any] = field(default_factory=dict)


def load(path: Path) -> TrainSpec:
    """The run described by ``path`` (``.toml``, or a run's ``config.json``)."""
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"--config {path} {what_is(path)}; pass a .toml file or a run's "
                          f"config.json")
    if path.suffix.lower() == ".toml":
        return _from_toml(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenzooError(f"--config {path} is not valid JSON ({exc}); pass a .toml file or a "
                          f"run's config.json") from None
    if not isinstance(data, dict) or "model" not in data or "dataset" not in data:
        raise GenzooError(f"--config {path} is not a run's config.json (it lacks model and "
                          f"dataset)")
    train = data.get("train", {}) if isinstance(data.get("train"), dict) else {}
    return TrainSpec(path, str(data["model"]), str(data["dataset"]),
                     str(data.get("preset", "default")), _seeds(data.get("seeds"), path),
                     dict(data.get("model_config", {})),
                     {k: train[k] for k in TRAIN_KEYS if k in train},
                     dict(data.get("data_options", {})))


def _read_toml(path: Path, known: set[str], hint: str = "") -> dict[str, Any]:
    """``path`` parsed, refusing keys outside ``known`` (``hint`` ends that message)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise GenzooError("TOML configs need Python 3.11 or later (tomllib); pass a run's "
                          "config.json to train instead") from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise GenzooError(f"--config {path} is not UTF-8 text; TOML files are UTF-8 (save it "
                          f"as UTF-8)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GenzooError(f"--config {path} is not valid TOML ({exc})") from None
    unknown = set(data) - known
    if unknown:
        raise GenzooError(f"--config {path}: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(known))}{hint})")
    return data


def _from_toml(path: Path) -> TrainSpec:
    data = _read_toml(path, TOML_KEYS, "; model settings go under [settings]")
    for key in ("model", "dataset"):
        if not isinstance(data.get(key), str):
            raise GenzooError(f"--config {path} must name the {key} (e.g. {key} = "
                              f"\"{'ali' if key == 'model' else 'grid25'}\")")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise GenzooError(f"--config {path}: [settings] must be a table of model settings")
    options = {"data_dir": data["data_dir"]} if "data_dir" in data else {}
    return TrainSpec(path, data["model"], data["dataset"], str(data.get("preset", "default")),
                     _seeds(data.get("seeds"), path), dict(settings),
                     {k: data[k] for k in TRAIN_KEYS if k in data}, options)


def _seeds(value: Any, path: Path) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [int(v) for v in value]
    raise GenzooError(f"--config {path}: seeds must be a positive count or a list of "
                      f"integers, got {value!r}")


def model_settings(spec: TrainSpec, config_cls: type) -> dict[str, Any]:
    """The file's model settings as overrides of ``config_cls``: lists back to tuples where
    the field is a tuple. A TOML file's unknown keys are refused (by the Config's build, with
    the closest name); a config.json's are skipped, as settings removed since the run."""
    import typing

    from genzoo.core import config as config_lib

    types_ = config_lib.field_types(config_cls)
    config_lib.check_recorded(config_cls, spec.settings, f"--config {spec.path}, settings")
    toml = spec.path.suffix.lower() == ".toml"
    return {k: tuple(v) if isinstance(v, list) and typing.get_origin(types_.get(k)) is tuple
            else v for k, v in spec.settings.items() if k in types_ or toml}


# --- compare ----------------------------------------------------------------------------------

# a compare file's keys (other than models and settings), what each must hold, in words
COMPARE_TYPES = (("dataset", str, "a dataset's name"), ("preset", str, "a preset's name"),
                 ("seeds", int, "a count of seeds per model"),
                 ("steps", int, "a whole number of steps"),
                 ("batch_size", int, "a whole number of examples"),
                 ("metrics", list, 'a list of evaluator names, e.g. ["mode-coverage"]'),
                 ("sampler", str, "a sampler's name"),
                 ("eval_options", dict, "a table of evaluator options"))
COMPARE_KEYS = {"models", "settings", *(key for key, _, _ in COMPARE_TYPES)}


@dataclass
class CompareSpec:
    """A compare described by a TOML file::

        models = ["ali", "gan", "vae"]
        dataset = "grid25"
        seeds = 10
        sampler = "mh"
        [settings]          # every compared model that has the key, as --set KEY=VALUE
        lr = 2e-4
        [settings.ali]      # one model's, as --set ali.KEY=VALUE
        r1_gamma = 1.0
    """

    path: Path
    models: list[str]
    dataset: str | None = None
    preset: str | None = None
    seeds: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    metrics: list[str] | None = None
    sampler: str | None = None
    sets: list[str] = field(default_factory=list)  # [MODEL.]KEY=VALUE, as --set
    eval_options: dict[str, Any] = field(default_factory=dict)


def load_compare(path: Path) -> CompareSpec:
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"--config {path} {what_is(path)}; pass a .toml file")
    data = _read_toml(path, COMPARE_KEYS)
    models = data.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise GenzooError(f"--config {path}: models must be a list of names, e.g. "
                          f"models = [\"ali\", \"gan\"]")
    sets = []
    for key, value in data.get("settings", {}).items():
        if isinstance(value, dict):  # [settings.MODEL]
            sets += [f"{key}.{k}={_text(v)}" for k, v in value.items()]
        else:
            sets.append(f"{key}={_text(value)}")
    for key, kind, what in COMPARE_TYPES:
        value = data.get(key)
        if value is not None and not (
                isinstance(value, kind) and not isinstance(value, bool)
                and (key != "metrics" or all(isinstance(m, str) for m in value))):
            raise GenzooError(f"--config {path}: {key} is {value!r:.60}, but it must be {what}")
    return CompareSpec(path, list(models), data.get("dataset"), data.get("preset"),
                       data.get("seeds"), data.get("steps"), data.get("batch_size"),
                       data.get("metrics"), data.get("sampler"), sets,
                       dict(data.get("eval_options", {})))


def _text(value: Any) -> str:
    """A TOML value as --set would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)
