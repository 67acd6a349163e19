"""The one training loop: seeding, devices, logging, progress, checkpoints and resume."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import torch

from genzoo.core.errors import GenzooError, PluginError
from genzoo.core.model import Batch, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.training import allocator, distributed, tblog
from genzoo.training.runs import Checkpoint, Run
from genzoo.training.settings import TrainSettings  # the training API's name for it
from genzoo.training.snapshots import Snapshots, evaluating, steps_per_epoch

TOY_POINTS = 1_000  # samples per seed in the TensorBoard scatter at each checkpoint


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenzooError(f"device {name!r} is not available on this machine (no CUDA "
                              f"GPU); use --device cpu or --device auto")
        return torch.device(name)
    raise GenzooError(f"unknown device {name!r}; use auto, cpu or cuda")


class Numerics:
    """The train step's arithmetic, entered around each step: bfloat16 autocast under bf16;
    on CUDA, TF32 matrix products and convolutions on under tf32 and off otherwise (torch
    leaves cuDNN's on by default, so "fp32" would not be fp32 on a GPU)."""

    def __init__(self, precision: str, device: torch.device):
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16,
                                       enabled=precision == "bf16")
        self.tf32 = precision == "tf32" if device.type == "cuda" else None
        self.saved: tuple[bool, bool] | None = None

    def __enter__(self) -> None:
        if self.tf32 is not None:
            self.saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.tf32
        self.autocast.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.autocast.__exit__(*exc)
        if self.saved is not None:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


class Trainer:
    """Runs ``model.train_step`` for ``settings.steps`` steps on batches from ``dataset``.

    Each seed draws its batches from its own "data" generator; the batch has the replica axis
    first. With a ``run``, metrics and checkpoints are written there; ``resume_from`` restores
    weights, optimizer state, step and every RNG, so a resumed run ends bit for bit where an
    uninterrupted one would (on CPU). Started by torchrun, it trains data-parallel (gradients
    averaged over the processes, rank 0 writing): see ``genzoo.training.distributed``.
    """

    def __init__(self, model: Model, dataset: Dataset, settings: TrainSettings,
                 run: Run | None = None, device: torch.device | str = "cpu",
                 progress: bool = False):
        settings.validate()
        allocator.keep_freed_memory()
        self.model = model
        self.dataset = dataset
        self.train_data = model.training_data(dataset)  # what batches are drawn from
        self.settings = settings
        # under torchrun (see genzoo.training.distributed): this rank's device and data stream;
        # every rank reads a resumed run (self.source), rank 0 alone writes (self.run)
        self.dp, self.device = distributed.setup(torch.device(device))
        is_main = self.dp is None or self.dp.is_main
        self.source = run
        self.run = run if is_main else None
        self.board: tblog.Board | None = None  # TensorBoard, while fit runs
        self.progress = progress and is_main
        self.data_rng = (ReplicaRNG(model.seeds, "data") if self.dp is None
                         else distributed.rank_rng(model.seeds, "data", self.dp.rank))
        self.trained_world_size = 1 if self.dp is None else self.dp.world_size
        if settings.precision == "bf16" and dataset.spec.kind != "image":
            raise GenzooError("--precision bf16 is for image data; the toy networks are too "
                              "small to gain from it and their losses need fp32: drop it")
        if settings.precision == "tf32" and self.device.type != "cuda":
            raise GenzooError("--precision tf32 is for CUDA GPUs (TensorFloat-32 units); on "
                              "this device use fp32 or bf16")
        self.step = 0
        self.seconds = 0.0
        self.owner = ""  # "plugin 'x' (dist 1.0)": who to name when the model's code fails
        model.to(self.device)
        if self.dp is not None:
            self.dp.prepare(model)

    # --- state -------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to continue: tensors for safetensors, the rest as JSON."""
        tensors = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        optim_meta: dict[str, Any] = {}
        for name, opt in self.model.optimizers().items():
            sd = opt.state_dict()
            scalars: dict[str, dict[str, Any]] = {}
            for pid, entry in sd["state"].items():
                for key, val in entry.items():
                    if torch.is_tensor(val):
                        tensors[f"optim/{name}/{pid}/{key}"] = val
                    else:
                        scalars.setdefault(str(pid), {})[key] = val
            optim_meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars}
        tensors["rng/noise"] = self.model.noise.get_state()
        tensors["rng/data"] = self.data_rng.get_state()
        meta = {"optimizers": optim_meta, "seconds": self.seconds, "seeds": self.model.seeds,
                "model": self.model.name}
        return tensors, meta

    def load_state(self, ckpt: Checkpoint) -> None:
        t = ckpt.tensors
        missing = [k for k in ("rng/noise", "rng/data") if k not in t]
        if missing or not isinstance(ckpt.meta.get("optimizers"), dict):
            what = ", ".join(missing) or "its optimizer settings"
            raise GenzooError(f"checkpoint at step {ckpt.step} lacks {what}; it was not "
                              f"written by genzoo's trainer (delete both files of that step "
                              f"to fall back to the previous checkpoint)")
        fall_back = (f"move both files of step {ckpt.step} out of checkpoints/ to fall back "
                     f"to the previous checkpoint")
        for key, ours in (("model", self.model.name), ("seeds", list(self.model.seeds))):
            recorded = ckpt.meta.get(key)
            if recorded is not None and recorded != ours:
                raise GenzooError(f"checkpoint at step {ckpt.step} was written for {key} "
                                  f"{recorded!r:.60}, and this run is {ours!r:.60}: "
                                  f"it belongs to another run; {fall_back}")
        model_state = {k[len("model/"):]: v for k, v in t.items() if k.startswith("model/")}
        bad = [k for k, v in model_state.items()
               if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise GenzooError(f"checkpoint at step {ckpt.step} holds weights that are not finite "
                              f"({bad[0]}{' and others' if len(bad) > 1 else ''}): it was "
                              f"damaged or written after training diverged; {fall_back}")
        try:
            self.model.load_state_dict(model_state)
        except RuntimeError as exc:
            raise GenzooError(f"checkpoint at step {ckpt.step} does not fit this model "
                              f"({str(exc).splitlines()[0]}); was the run made with other "
                              f"settings?") from None
        for name, opt in self.model.optimizers().items():
            meta = ckpt.meta["optimizers"].get(name)
            if meta is None:
                raise GenzooError(f"checkpoint at step {ckpt.step} lacks optimizer {name!r}")
            state: dict[int, dict[str, Any]] = {}
            prefix = f"optim/{name}/"
            for key, val in t.items():
                if key.startswith(prefix):
                    pid, field = key[len(prefix):].split("/", 1)
                    state.setdefault(int(pid), {})[field] = val
            for pid, scalars in meta["scalars"].items():
                state.setdefault(int(pid), {}).update(scalars)
            opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.model.noise.set_state(t["rng/noise"])
        self.data_rng.set_state(t["rng/data"])
        self.trained_world_size = int(ckpt.meta.get("world_size", 1))
        if self.dp is not None:
            self.dp.load_rng(t, self.model, self.data_rng)
        self.step = ckpt.step
        self.seconds = float(ckpt.meta.get("seconds", 0.0))

    def save(self) -> None:
        # distributed: a collective every rank joins, even those that write nothing
        extras = (None if self.dp is None else
                  self.dp.checkpoint_extras(self.model, self.data_rng, self.step))
        if self.run is None:
            return
        tensors, meta = self.state()
        if extras is not None:
            tensors.update(extras[0])
            meta.update(extras[1])
        self.run.save_checkpoint(self.step, tensors, meta, keep=self.settings.keep_checkpoints)
        if self.board is not None and self.dataset.spec.kind == "toy" and \
                self.model.can("sample"):  # every seed's toy samples, for TensorBoard
            with evaluating(self.model):
                x = self.model.sample(TOY_POINTS, ReplicaRNG(self.model.seeds, "eval")).cpu()
            for i, seed in enumerate(self.model.seeds):
                self.board.scatter(f"samples/seed_{seed}", x[i], self.step)

    def resume(self, fresh_ok: bool = False) -> None:
        """Continue from the run's latest checkpoint. ``fresh_ok``: from step 0 (the weights
        its config and seeds give, as a fresh start would) when it stopped before its first
        one; else that is an error (sampling an untrained run is never what was meant)."""
        assert self.source is not None
        if self.source.checkpoint_steps() or not fresh_ok:
            self.load_state(self.source.load_checkpoint())
        if self.run is not None:
            self.run.truncate_metrics(self.step)

    # --- loop --------------------------------------------------------------------------------

    def draw(self) -> Batch:
        xs, ys = zip(*(self.train_data.draw(self.settings.batch_size, g)
                       for g in self.data_rng.generators), strict=True)
        return Batch(torch.stack(xs), None if ys[0] is None else torch.stack(ys)).to(self.device)

    def fit(self) -> Model:
        s, model = self.settings, self.model
        # the data (fp32, every seed) times 8: a floor for the real batch, the fake one and
        # the first layers' activations of every model here
        allocator.check_fits(8 * 4 * s.batch_size * model.replicas *
                             math.prod(self.dataset.spec.x_shape),
                             f"--batch-size {s.batch_size}", "use a smaller batch")
        distributed.check_world_size(self.trained_world_size, self.dp)
        model.train()
        base_seconds, started = self.seconds, time.perf_counter()

        def clock() -> None:  # training seconds, across resumes, into self.seconds
            self.seconds = base_seconds + time.perf_counter() - started

        autocast = Numerics(s.precision, self.device)
        with contextlib.ExitStack() as side:
            bar, shots, stop = self._side_outputs(side)
            saves = _Cadence(s, self.dataset, self.dp, self.step)
            while self.step < s.steps and stop.signum is None:
                if self.dp is not None:
                    self.dp.sync_buffers(model)  # rank 0's buffers, as DDP syncs them
                batch = self.draw()
                with autocast:
                    metrics = self._train_step(batch)
                self.step += 1
                done = self.step == s.steps
                saving = saves.due(self.step, done)
                logging = self.step % s.log_every == 0 or done
                if saving or logging:
                    self._check_finite(metrics, saves.last_step)
                if logging:
                    clock()
                    self._log(metrics, bar)
                if shots is not None:
                    self._snapshot(shots, done)
                if saving:
                    clock()
                    self.save()
                    saves.saved(self.step)
            if stop.signum is not None:  # a checkpoint of the last step, unless it has one
                if self.run is not None and self.step > saves.last_step:
                    clock()
                    self.save()
                raise TrainingInterrupted(stop.signum, self.step,
                                          self.run.path if self.run else None)
        model.eval()
        return model

    def _side_outputs(self, side: contextlib.ExitStack
                      ) -> tuple[_ProgressBar | None, Snapshots | None, _StopSignals]:
        """What the loop writes besides the steps, each closed by ``side`` when it ends: the
        run's lock, TensorBoard, the progress bar, the image grids (each epoch and at the end),
        the signal handlers, and under torchrun the gradient averaging."""
        s, model = self.settings, self.model
        world = 1 if self.dp is None else self.dp.world_size  # batch_size is per process
        if self.dp is not None:
            side.callback(self.dp.attach(model))
        if self.run is not None:
            side.callback(self.run.lock.acquire().release)
        bar = None
        if self.progress:
            images = (s.batch_size * model.replicas * world
                      if self.dataset.spec.kind == "image" else 0)
            bar = _ProgressBar(s.steps, self.step, images)
            side.callback(bar.close)
        # events past this step are an interrupted attempt's, as metrics.jsonl's were
        self.board = (tblog.Board(self.run.path, resume_step=self.step)
                      if self.run is not None and s.tensorboard else None)
        if self.board is not None:
            side.callback(self._close_board)
        shots = Snapshots.for_run(model, self.dataset,
                                  self.run.path if self.run is not None else None,
                                  s.batch_size * world)
        if shots is not None:
            shots.board = self.board
        stop = _StopSignals(listen=self.dp is None)  # ranks would stop at different steps
        side.callback(stop.restore)
        return bar, shots, stop

    def _close_board(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None

    def _train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The model's step, an exception from its code blamed on it (``_blame``)."""
        try:
            return self.model.train_step(batch, self.step, self.settings.steps)
        except (GenzooError, KeyboardInterrupt):
            raise
        except Exception as exc:
            # BatchNorm's refusal of a batch of one
            if isinstance(exc, ValueError) and "more than 1 value per channel" in str(exc):
                raise GenzooError(f"--batch-size {self.settings.batch_size} is too small for "
                                  f"{self.model.name}'s BatchNorm; use 2 or more") from exc
            self._blame(exc, "train_step()")

    def _log(self, metrics: dict[str, torch.Tensor], bar: _ProgressBar | None) -> None:
        """One record: metrics.jsonl, TensorBoard, the progress bar."""
        if self.dp is not None:
            metrics = self.dp.mean_metrics(metrics)  # over the global batch
        record: dict[str, Any] = {"step": self.step, "seconds": round(self.seconds, 3)}
        per_seed: dict[str, list[float]] = {}
        for key, val in metrics.items():
            vals = val.detach().float().reshape(-1).cpu().tolist()
            record[key] = sum(vals) / len(vals)
            if len(vals) > 1:
                per_seed[key] = vals
        if per_seed:
            record["per_seed"] = per_seed
        if self.run is not None:
            self.run.log_metrics(record)
        if self.board is not None:
            self.board.scalars(record)
        if bar is not None:
            bar.update(self.step, record)

    def _snapshot(self, shots: Snapshots, done: bool) -> None:
        try:
            shots.after_step(self.step, done)
        except (GenzooError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the model's sample / reconstruct
            self._blame(exc, "sample() or reconstruct(), drawing the run's snapshot")

    def _blame(self, exc: BaseException, where: str) -> NoReturn:
        """Raise an exception from the model's code as one line naming the model and the
        plugin that registered it (``self.owner``, set by the host; --debug: the traceback).
        Under torchrun it is raised as it is: a peer's failure surfaces inside the step too,
        and the ranks' own machinery names the rank."""
        if self.dp is not None:
            raise exc
        owner = f" of {self.owner}" if self.owner else ""
        raise PluginError(f"model {self.model.name!r}{owner} failed in {where} at step "
                          f"{self.step}: {type(exc).__name__}: {exc} (--debug shows the "
                          f"traceback)") from exc

    def _check_finite(self, metrics: dict[str, torch.Tensor], saved_step: int) -> None:
        """Stop when every seed's losses have gone non-finite (a lone diverged seed trains on:
        compare reports it as diverged); the last checkpoint, still finite, is kept."""
        per_replica = [torch.isfinite(v.detach().float().reshape(self.model.replicas, -1)
                                      ).all(dim=1)
                       for v in metrics.values() if v.numel() % self.model.replicas == 0]
        if per_replica and not bool(torch.stack(per_replica).all(dim=0).any()):
            kept = (f"its last checkpoint (step {saved_step}) is kept" if saved_step
                    else "it has no checkpoint")
            raise GenzooError(f"training diverged: the losses of every seed are not finite at "
                              f"step {self.step}; {kept}; lower the learning rate (--set lr=...)")


class _Cadence:
    """When the loop writes a checkpoint: every ``checkpoint_every`` steps, at the end of
    every epoch of image data with a known size, when ``checkpoint_minutes`` have passed since
    the last one (single process only: ranks would disagree on when), and at the end."""

    def __init__(self, s: TrainSettings, dataset: Dataset, dp: Any, step: int):
        world = 1 if dp is None else dp.world_size
        self.every = s.checkpoint_every
        self.epoch = (steps_per_epoch(dataset, s.batch_size * world)
                      if dataset.spec.kind == "image" and s.checkpoint_every else None)
        self.interval = 60 * s.checkpoint_minutes if dp is None else 0.0
        self.last_time, self.last_step = time.perf_counter(), step

    def due(self, step: int, done: bool) -> bool:
        overdue = self.interval > 0 and time.perf_counter() - self.last_time >= self.interval
        return (done or overdue or bool(self.every and step % self.every == 0)
                or bool(self.epoch and step % self.epoch == 0))

    def saved(self, step: int) -> None:
        self.last_time, self.last_step = time.perf_counter(), step


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit`` between two steps, after a checkpoint of the last
    one was written (when the run had advanced past its last checkpoint)."""

    def __init__(self, signum: int, step: int, run: Path | None):
        super().__init__(f"interrupted at step {step}")
        self.signum, self.step, self.run = signum, step, run

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as shells report them


class _StopSignals:
    """While training: SIGINT and SIGTERM ask the loop to stop after the current step (a
    second SIGINT stops at once). A no-op without ``listen`` or outside the main thread."""

    def __init__(self, listen: bool = True) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        if not listen or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class _ProgressBar:
    """A rich progress bar: step, losses, steps/s (and images/s for images) and ETA."""

    def __init__(self, total: int, start: int, images_per_step: int = 0):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[losses]}"),
            TimeRemainingColumn(), transient=False)
        self.task = self.progress.add_task("train", total=total, completed=start,
                                           rate="", losses="")
        self.start, self.started = start, time.perf_counter()
        self.images_per_step = images_per_step
        self.progress.start()

    def update(self, step: int, record: dict[str, Any]) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        losses = " ".join(f"{k}={v:.3f}" for k, v in record.items()
                          if k not in ("step", "seconds", "per_seed"))
        rate = (step - self.start) / elapsed
        text = f"{rate:.1f} steps/s"
        if self.images_per_step:
            text += f" {rate * self.images_per_step:.0f} images/s"
        self.progress.update(self.task, completed=step, rate=text, losses=losses)

    def close(self) -> None:
        self.progress.stop()
