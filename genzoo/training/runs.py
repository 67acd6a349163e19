"""Run directories: config.json, metrics.jsonl and safetensors checkpoints, written atomically.

Layout of a run directory::

    config.json                     every setting, genzoo and plugin versions, seeds
    metrics.jsonl                   one JSON object per logged step
    checkpoints/step-00001000.safetensors   weights, optimizer tensors, RNG states
    checkpoints/step-00001000.json          sidecar: step, optimizer hyperparameters, sha256

A checkpoint counts only once its sidecar exists; the sidecar is renamed into place after the
tensors file, so a process killed mid-save leaves the previous checkpoint as the latest.
Nothing is pickled: tensors go through safetensors, everything else through JSON.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.core.atomic import (  # noqa: F401 -- atomic_write_* also used from here
    atomic_file,
    atomic_write_bytes,
    atomic_write_json,
    file_digest,
)
from genzoo.core.errors import GenzooError, what_is
from genzoo.training.locks import LOCK_NAME, DirLock

CONFIG = "config.json"
METRICS = "metrics.jsonl"
# config.json's top-level entries, what each must hold, in words
RECORDED = (("model", str, "a model's name"), ("dataset", str, "a dataset's name"),
            ("seeds", list, "a non-empty list of integer seeds"),
            ("train", dict, "an object of training settings"),
            ("model_config", dict, "an object of model settings"),
            ("data_options", dict, "an object of dataset options"))
CHECKPOINTS = "checkpoints"
FORMAT_VERSION = 1
_CKPT_RE = re.compile(r"^step-(\d+)\.json$")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass
class Checkpoint:
    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


class Run:
    """A run directory. ``Run.create`` starts one; ``Run.open`` checks an existing one.

    ``lock`` is the directory's one-writer lock: ``create`` takes it (and keeps it for the
    training that follows), the Trainer takes it for ``fit`` and drops it at the end.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = DirLock(self.path, "training a run")
        self.restarted = False  # create() replaced an attempt that never checkpointed

    @classmethod
    def create(cls, path: Path, config: dict[str, Any]) -> Run:
        path = Path(path)
        try:
            str(path.absolute()).encode("utf-8")  # config.json records it
        except UnicodeEncodeError:
            raise GenzooError(f"--out {str(path)!r} is not valid UTF-8 (genzoo records paths "
                              f"in JSON files); choose a name in UTF-8") from None
        if path.exists() and not path.is_dir():
            raise GenzooError(f"--out {path} is a file; choose a directory")
        if path.is_dir() and not (path / CONFIG).exists() and \
                any(p.name != LOCK_NAME for p in path.iterdir()):  # checked before the lock
            raise GenzooError(f"--out {path} is a folder with other files in it, not a run; "
                              f"choose a new or empty directory")  # file is written into it
        run = cls(path)
        run.lock.acquire()  # a live run in this directory refuses us here
        if (path / CONFIG).exists():
            if run.checkpoint_steps():
                run.lock.release()
                raise GenzooError(f"{path} already holds a run; pass --resume {path} to "
                                  f"continue it, or choose another --out")
            # an earlier attempt stopped before its first checkpoint (and is not running:
            # we hold the lock): nothing of it can be resumed, so it is started again
            (path / METRICS).unlink(missing_ok=True)
            run.restarted = True
        atomic_write_json(path / CONFIG, config)
        return run

    @classmethod
    def open(cls, path: Path) -> Run:
        path = Path(path)
        if not path.is_dir():
            raise GenzooError(f"run directory {path} {what_is(path)}; pass a directory made by "
                              f"`genzoo train`")
        if not (path / CONFIG).is_file():
            raise GenzooError(f"{path} is not a genzoo run (no {CONFIG}); pass a directory "
                              f"made by `genzoo train`")
        if (path / "checkpoints").is_symlink():
            raise GenzooError(f"{path / 'checkpoints'} is a link to "
                              f"{os.path.realpath(path / 'checkpoints')}; a run writes and "
                              f"prunes checkpoints inside its own folder: replace the link with "
                              f"the folder itself")
        for name, folder in ((METRICS, False), ("checkpoints", True), ("tensorboard", True),
                             ("results.json", False)):
            entry = path / name
            if entry.exists() and entry.is_dir() != folder:
                raise GenzooError(f"{entry} is a {'file' if folder else 'folder'}, where the run "
                                  f"keeps its {'folder' if folder else 'file'} of that name; "
                                  f"move it out of the run and rerun")
        return cls(path)

    @property
    def config(self) -> dict[str, Any]:
        try:
            config = json.loads((self.path / CONFIG).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise GenzooError(f"{self.path / CONFIG} is unreadable ({exc}); the run cannot be "
                              f"used") from None
        if not isinstance(config, dict):
            raise GenzooError(f"{self.path / CONFIG} holds a JSON {type(config).__name__}, not "
                              f"a run's settings; the run cannot be used")
        for key, kinds, what in RECORDED:
            value = config.get(key)
            if value is not None and not (isinstance(value, kinds) and (
                    key != "seeds" or value and all(type(s) is int for s in value))):
                raise GenzooError(f"{self.path / CONFIG}: {key} is {value!r:.60}, but it must "
                                  f"be {what}; was the file edited by hand? (restore it)")
        return config

    def update_config(self, **changes: Any) -> None:
        config = self.config
        config.update(changes)
        atomic_write_json(self.path / CONFIG, config)

    # --- metrics -----------------------------------------------------------------------------

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append one record; NaN and infinities become null (JSON has neither)."""
        with open(self.path / METRICS, "a") as f:
            f.write(json.dumps(_finite(record), allow_nan=False) + "\n")

    def metrics(self) -> Iterator[dict[str, Any]]:
        path = self.path / METRICS
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past ``after_step`` (logged after the checkpoint a resume starts from)."""
        path = self.path / METRICS
        if not path.exists():
            return
        kept = [json.dumps(r) for r in self.metrics() if r.get("step", 0) <= after_step]
        atomic_write_bytes(path, "".join(line + "\n" for line in kept).encode())

    # --- checkpoints -------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    def checkpoint_steps(self) -> list[int]:
        """Steps of complete checkpoints (those whose sidecar exists), oldest first."""
        if not self.checkpoint_dir.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.checkpoint_dir.iterdir()
                      if (m := _CKPT_RE.match(p.name)))

    def _paths(self, step: int) -> tuple[Path, Path]:
        stem = self.checkpoint_dir / f"step-{step:08d}"
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")

    def save_checkpoint(self, step: int, tensors: dict[str, torch.Tensor],
                        meta: dict[str, Any], keep: int = 2) -> Path:
        tensor_path, meta_path = self._paths(step)
        with atomic_file(tensor_path) as tmp:
            try:
                save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                          str(tmp))
            except SafetensorError as exc:  # its I/O errors arrive as text: name a full disk
                if "No space left" in str(exc) or "quota" in str(exc).lower():
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp)) from exc
                raise
            digest = file_digest(tmp)
        try:
            atomic_write_json(meta_path, {**meta, "step": step, "format": FORMAT_VERSION,
                                          "sha256": digest})
        except BaseException:  # e.g. the disk filled up: a tensor file without its sidecar
            tensor_path.unlink(missing_ok=True)  # is not a checkpoint; the previous one stays
            raise
        self._prune(keep)
        return tensor_path

    def _prune(self, keep: int) -> None:
        for step in self.checkpoint_steps()[:-keep] if keep > 0 else []:
            tensor_path, meta_path = self._paths(step)
            meta_path.unlink(missing_ok=True)  # sidecar first: the checkpoint stops counting
            tensor_path.unlink(missing_ok=True)
        for stray in self.checkpoint_dir.glob(".*.tmp"):
            stray.unlink(missing_ok=True)  # left by a process killed while saving

    def load_checkpoint(self, step: int | None = None) -> Checkpoint:
        steps = self.checkpoint_steps()
        if not steps:
            raise GenzooError(f"{self.path} has no checkpoint yet; train it (or wait for its "
                              f"first checkpoint) before using it")
        step = steps[-1] if step is None else step
        if step not in steps:
            raise GenzooError(f"{self.path} has no checkpoint at step {step} "
                              f"(available: {', '.join(map(str, steps))})")
        tensor_path, meta_path = self._paths(step)
        earlier = [s for s in steps if s < step]
        hint = (f"move both files of step {step} out of checkpoints/ to fall back to the "
                f"previous checkpoint (step {earlier[-1]}, intact)" if earlier else
                "this run has no earlier checkpoint: train it again with --out")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise GenzooError(f"checkpoint sidecar {meta_path} is corrupt; {hint}") from None
        if not tensor_path.is_file():
            raise GenzooError(f"checkpoint {tensor_path} is missing; {hint}")
        if not isinstance(meta, dict):
            raise GenzooError(f"checkpoint sidecar {meta_path} holds a JSON "
                              f"{type(meta).__name__}, not a checkpoint's record; {hint}")
        if not isinstance(meta.get("sha256"), str):
            raise GenzooError(f"checkpoint sidecar {meta_path} has no sha256 of its tensors, so "
                              f"they cannot be verified; {hint}")
        if meta.get("step") != step:
            raise GenzooError(f"checkpoint sidecar {meta_path} says step {meta.get('step')}, "
                              f"its name step {step}; {hint}")
        if file_digest(tensor_path) != meta["sha256"]:
            raise GenzooError(f"checkpoint {tensor_path} is corrupt (checksum mismatch); {hint}")
        try:
            tensors = load_file(tensor_path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise GenzooError(f"checkpoint {tensor_path} is unreadable ({exc}); {hint}") from None
        return Checkpoint(step, tensors, meta)
