"""Data-parallel training under ``torchrun``: gradients all-reduced at every optimizer step.

``torchrun --nproc-per-node N -m genzoo train ...`` starts N processes (ranks); each holds a
full copy of the model, draws its own batches and computes its own gradients, and before any
optimizer of the model steps, the gradients of that optimizer's parameters are averaged over
the ranks (one flattened all-reduce per dtype). Every rank then applies the same update to the
same weights, so the weights stay identical everywhere. This is gradient all-reduce data
parallelism, equivalent to DistributedDataParallel's gradient averaging; it is not the
``DistributedDataParallel`` wrapper.

Why not the wrapper. DDP all-reduces in autograd hooks and expects each forward of the wrapped
module to be followed by one backward that reaches its parameters before the next forward.
genzoo models step their own optimizers inside ``Model.train_step`` and break that contract on
purpose: the adversarial game runs D several times per step (extra D updates on slices, forward
passes under ``no_grad``), back-propagates the generator's loss through D into its *inputs only*
(``backward(inputs=[leaf])``, so D's parameters get no gradient in that pass), adds R1 through
``torch.autograd.grad(create_graph=True)`` (DDP's documentation says it does not work with
``autograd.grad``) and steps two optimizers in a configured order. Wrapping submodules would
need ``no_sync`` and ``find_unused_parameters`` choreography inside every model, third-party
ones included. The optimizer is the one point every model goes through, and averaging there is
exact: gradients are linear in the per-rank losses, so the averaged gradient is the gradient of
the loss averaged over the global batch, as with DDP. (A model that looks at gradients between
backward and step sees its local ones there, where DDP's would be averaged already: clipping
their norm would clip each rank's own, and an AMP GradScaler could skip the step on one rank
only and leave the others waiting in the all-reduce. No bundled model does either.)

What each rank does differently, and what rank 0 alone does:

- Data: every rank draws ``batch_size`` examples per seed and step from its own stream (the DDP
  convention: ``--batch-size`` is per rank, the global batch is ``batch_size x world size``).
  Rank 0's streams are the single-process ones; rank r > 0 derives its own from (seed, r).
  The datasets draw with replacement, so independent per-rank streams are the distributed
  sampler: together they are a single stream's global batch in distribution.
- Noise (priors, dropout masks, encoder noise): per rank as well, derived the same way, so the
  ranks' generated samples are independent rather than copies.
- Buffers (BatchNorm running statistics): broadcast from rank 0 at the start of every step and
  before every checkpoint, as DDP does at each forward by default (``forward_sync_buffers``,
  formerly ``broadcast_buffers``).
  Training-mode BatchNorm normalises with each rank's own batch statistics (no SyncBatchNorm),
  as under DDP; the running statistics saved, and used in eval mode, are rank 0's.
- Metrics, checkpoints, images, config: written by rank 0 only. Logged metrics are averaged
  over the ranks (they describe the global batch).
- Checkpoints hold every rank's data and noise generator states (gathered to rank 0), so
  ``--resume`` under torchrun with the same N continues every rank's stream and ends where an
  uninterrupted run would. A digest of each rank's model state is gathered at every checkpoint;
  ranks holding different weights stop the run with an error.

Devices: CPU ranks use the gloo backend; with ``--device cuda`` (or auto on a GPU machine) rank
r uses ``cuda:LOCAL_RANK`` and the nccl backend.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import STREAMS, ReplicaRNG, derive_seed

RNG_KEY = "rng/ranks/{}"  # checkpoint tensors (world, replicas, state bytes): every rank's states


MASTER_HINT = ("RANK and WORLD_SIZE are set but MASTER_ADDR/MASTER_PORT are not; start "
               "distributed runs with torchrun")

_solo = False  # inside solo(): this process trains alone although torchrun started it


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting the same
    environment variables) and trains as one of its ranks (not inside ``solo()``)."""
    return not _solo and "RANK" in os.environ and "WORLD_SIZE" in os.environ


@contextmanager
def solo() -> Iterator[None]:
    """Within: trainers and runs behave as in a plain single process (no process group, the
    run written by this process, world size 1), for the jobs of a compare sharded over the
    ranks (``genzoo.training.shards``), each trained by one rank alone."""
    global _solo
    before, _solo = _solo, True
    try:
        yield
    finally:
        _solo = before


def env_rank() -> int:
    return int(os.environ.get("RANK", "0")) if launched() else 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1")) if launched() else 1


def is_main_process() -> bool:
    """True in a single-process run and on rank 0 of a distributed one: the writer."""
    return env_rank() == 0


def rank_seed(seed: int, stream: str, rank: int) -> int:
    """The generator seed of ``stream`` for ``seed`` on ``rank``; rank 0's is the single-process
    one, so rank 0 of a distributed run sees exactly what a single process would."""
    if rank == 0:
        return derive_seed(seed, stream)
    sequence = np.random.SeedSequence([int(seed), STREAMS[stream]], spawn_key=(rank,))
    return int(sequence.generate_state(1)[0])


def rank_rng(seeds: Sequence[int], stream: str, rank: int) -> ReplicaRNG:
    rng = ReplicaRNG(seeds, stream)
    reseed(rng, rank)
    return rng


def reseed(rng: ReplicaRNG, rank: int) -> None:
    """Re-seed ``rng``'s generators in place (models hold references to them) for ``rank``."""
    for seed, generator in zip(rng.seeds, rng.generators, strict=True):
        generator.manual_seed(rank_seed(seed, rng.stream, rank))


class DataParallel:
    """This process's place in a torchrun job and the collectives the trainer needs."""

    def __init__(self, rank: int, world_size: int, device: torch.device):
        self.rank, self.world_size, self.device = rank, world_size, device
        self._masks: dict[tuple[Any, ...], torch.Tensor] = {}  # cached has-grad masks

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- start ---------------------------------------------------------------------------------

    def prepare(self, model: Model) -> None:
        """Give every rank rank 0's weights and buffers, and this rank its own noise stream."""
        reseed(model.noise, self.rank)
        with torch.no_grad():
            self._broadcast(model.state_dict().values())

    def attach(self, model: Model) -> Callable[[], None]:
        """Average gradients across ranks before any optimizer stepping ``model``'s parameters
        steps (a global optimizer pre-hook, so optimizers a model does not list in
        ``optimizers()`` are covered too). Returns the function that detaches it."""
        owned = {id(p) for p in model.parameters()}

        def before_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            if any(id(p) in owned for p in params):
                self.average_gradients(params)

        handle = register_optimizer_step_pre_hook(before_step)
        return handle.remove

    # --- collectives -------------------------------------------------------------------------

    @torch.no_grad()
    def average_gradients(self, params: Sequence[nn.Parameter]) -> None:
        """Replace each parameter's gradient by its mean over the ranks.

        A rank where a parameter has no gradient contributes zeros (as DDP does for unused
        parameters); a parameter no rank computed a gradient for keeps ``grad=None``, so the
        optimizer skips it as it would in a single process. Each bucket ends with one has-grad
        flag per parameter, so one all-reduce per dtype carries both.
        """
        groups: dict[tuple[torch.dtype, torch.device], list[nn.Parameter]] = {}
        for p in params:
            if p.requires_grad:
                groups.setdefault((p.dtype, p.device), []).append(p)
        for (dtype, device), group in groups.items():
            present = tuple(p.grad is not None for p in group)
            key = (dtype, device, present)
            mask = self._masks.get(key)
            if mask is None:  # cached: no host-to-device copy per step
                mask = self._masks[key] = torch.tensor(present, dtype=dtype, device=device)
            flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                              for p in group] + [mask])
            dist.all_reduce(flat)
            flat.div_(self.world_size)
            counts = flat[-len(group):]
            views = flat[:-len(group)].split([p.numel() for p in group])
            missing = not all(present)
            had = counts.gt(0).tolist() if missing else None  # a sync, only in this rare case
            for i, (p, view) in enumerate(zip(group, views, strict=True)):
                if p.grad is not None:
                    p.grad.copy_(view.view_as(p))
                elif had is not None and had[i]:
                    p.grad = view.view_as(p).clone()

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every rank."""
        with torch.no_grad():
            self._broadcast(model.buffers())

    def mean_metrics(self, metrics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each per-replica metric averaged over the ranks."""
        if not metrics:
            return metrics
        keys = list(metrics)
        stacked = torch.stack([metrics[k].detach().float().reshape(-1) for k in keys])
        stacked = stacked.to(self._comm_device(stacked))
        dist.all_reduce(stacked)
        stacked.div_(self.world_size)
        return {k: stacked[i] for i, k in enumerate(keys)}

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's ``tensor`` (same shape everywhere) stacked along a new first axis, on the
        CPU."""
        t = tensor.to(self._comm_device(tensor)).contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(parts, t)
        return torch.stack(parts).cpu()

    # --- checkpoints -------------------------------------------------------------------------

    def checkpoint_extras(self, model: Model, data_rng: ReplicaRNG, step: int
                          ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Collective (every rank calls it at the same step): syncs buffers, gathers every
        rank's generator states, and checks that all ranks hold the same model state."""
        self.sync_buffers(model)
        digests = self.gather(state_digest(model))
        hexes = [bytes(d.tolist()).hex() for d in digests]
        if len(set(hexes)) > 1:
            raise GenzooError(f"the {self.world_size} ranks hold different weights at step "
                              f"{step}; model {model.name!r} changes its parameters outside "
                              f"its optimizers in a rank-dependent way, so it cannot be trained "
                              f"with torchrun")
        tensors = {RNG_KEY.format("noise"): self.gather(model.noise.get_state()),
                   RNG_KEY.format("data"): self.gather(data_rng.get_state())}
        return tensors, {"world_size": self.world_size, "rank_state_sha256": hexes}

    def load_rng(self, tensors: dict[str, torch.Tensor], model: Model,
                 data_rng: ReplicaRNG) -> None:
        """Restore this rank's generator states from a checkpoint written by the same number
        of ranks."""
        key_noise, key_data = RNG_KEY.format("noise"), RNG_KEY.format("data")
        if key_noise not in tensors or key_data not in tensors \
                or tensors[key_data].shape[0] != self.world_size:
            return  # single-process or another world size: check_world_size refuses both
        model.noise.set_state(tensors[key_noise][self.rank])
        data_rng.set_state(tensors[key_data][self.rank])

    # --- helpers -----------------------------------------------------------------------------

    def _comm_device(self, tensor: torch.Tensor) -> torch.device:
        # nccl moves only CUDA tensors; gloo takes CPU ones
        return self.device if dist.get_backend() == "nccl" else tensor.device

    def _broadcast(self, tensors: Iterable[torch.Tensor]) -> None:
        """Rank 0's values of ``tensors`` to every rank, as one flat tensor per (dtype,
        device)."""
        groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for t in tensors:
            groups.setdefault((t.dtype, t.device), []).append(t)
        for group in groups.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            sent = flat.to(self._comm_device(flat))
            dist.broadcast(sent, src=0)
            flat = sent.to(flat.device)
            for t, view in zip(group, flat.split([t.numel() for t in group]), strict=True):
                t.copy_(view.view_as(t))


def state_digest(model: nn.Module) -> torch.Tensor:
    """sha256 of the model's state (weights and buffers, in state_dict order) as 32 uint8."""
    h = hashlib.sha256()
    for key, t in model.state_dict().items():
        h.update(key.encode())
        data = t.detach().cpu().contiguous().reshape(-1)
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return torch.tensor(list(h.digest()), dtype=torch.uint8)


def setup(device: torch.device) -> tuple[DataParallel | None, torch.device]:
    """Join the torchrun job this process belongs to (none: ``(None, device)``).

    On CUDA each rank takes the GPU numbered by its LOCAL_RANK and talks nccl; on the CPU,
    gloo. The process group is created once per process and destroyed at exit.
    """
    if not launched():
        return None, device
    rank, world = env_rank(), env_world_size()
    device = local_device(device)
    if not dist.is_initialized():
        if not dist.is_available():
            raise GenzooError("this torch build has no torch.distributed; run without torchrun")
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            raise GenzooError(MASTER_HINT)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                rank=rank, world_size=world)
        atexit.register(_shutdown)
    elif dist.get_world_size() != world or dist.get_rank() != rank:
        raise GenzooError("the torch.distributed process group does not match RANK and "
                          "WORLD_SIZE")
    return DataParallel(rank, world, device), device


def local_device(device: torch.device) -> torch.device:
    """On CUDA, the GPU numbered by this process's LOCAL_RANK (made the current one): one
    GPU per process on each machine. Any other device as it is."""
    if device.type != "cuda":
        return device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        raise GenzooError(f"process {local} on this machine has no GPU of its own (there "
                          f"are {torch.cuda.device_count()}); start at most that many "
                          f"with --nproc-per-node, or train on the CPU with --device cpu")
    device = torch.device("cuda", local)
    torch.cuda.set_device(device)
    return device


def _shutdown() -> None:
    if dist.is_initialized():
        # all ranks leave together: a rank that tears gloo down while its peer is still
        # inside the last collective aborts the peer ("terminate called ...")
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
            # gloo's worker threads release their last work (tensors Python also knows)
            # after the collective has returned, and that needs the GIL: one still waiting
            # for it when the interpreter finalizes is killed, and aborts the process
            # ("terminate called without an active exception": 2 of 40 runs of
            # tests/distributed_probe.py without this wait, 0 of 40 with it)
            time.sleep(0.2)


def check_world_size(trained_with: int, dp: DataParallel | None) -> None:
    """Refuse to continue training a checkpoint with another number of processes: its data
    and noise streams, and its global batch, belong to that number."""
    now = dp.world_size if dp is not None else 1
    if trained_with == now:
        return
    how = (f"torchrun --nproc-per-node {trained_with} -m genzoo train --resume ..."
           if trained_with > 1 else "genzoo train --resume ... (without torchrun)")
    raise GenzooError(f"this run was trained by {trained_with} process(es) and cannot continue "
                      f"with {now}; resume it with `{how}`")
