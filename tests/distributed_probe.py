"""Run by tests/test_distributed.py under ``torchrun --nproc-per-node 2``: the collectives of
genzoo.training.distributed on a plain torch model with torch's BatchNorm, each check asserted
on both ranks. Writes the file ok-RANK in its working directory at the end."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.core.model import DataSpec, Model
from genzoo.training import distributed


@dataclass
class Settings:
    pass


class Probe(Model):
    name = "probe"
    Config = Settings

    def __init__(self) -> None:
        super().__init__(Settings(), DataSpec("points", (2,)), [0])
        self.net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        self.unused = nn.Parameter(torch.zeros(3))
        self.opt = torch.optim.SGD(self.parameters(), lr=0.1)  # not listed in optimizers()


dp, _ = distributed.setup(torch.device("cpu"))
assert dp is not None and dp.world_size == 2
rank = dp.rank

# different weights on each rank (as an unseeded model would have): rank 0's win
torch.manual_seed(rank)
model = Probe()
dp.prepare(model)
digests = dp.gather(distributed.state_digest(model))
assert digests[0].equal(digests[1])

# one step: each rank's batch, gradients averaged before the step of an optimizer the model
# does not even list; torch BatchNorm's int64 num_batches_tracked is broadcast with the rest
detach = dp.attach(model)
x = torch.randn(8, 2, generator=torch.Generator().manual_seed(10 + rank)) + rank
model.net(x).square().sum().backward()
local = model.net[0].weight.grad.clone()
both = dp.gather(local)
model.opt.step()
assert model.net[0].weight.grad.equal((both[0] + both[1]) / 2)
assert model.unused.grad is None  # no rank computed one: the optimizer still skips it
before = dp.gather(model.net[1].running_mean.clone())
assert not before[0].equal(before[1])  # each rank's own batch statistics
dp.sync_buffers(model)
assert model.net[1].running_mean.equal(before[0])
digests = dp.gather(distributed.state_digest(model))
assert digests[0].equal(digests[1])
detach()

# a gradient only rank 1 computed: rank 0 contributes zeros (DDP's unused parameters)
a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))
a.grad = torch.full((3,), float(rank + 1))
b.grad = torch.full((2,), 4.0) if rank == 1 else None
dp.average_gradients([a, b])
assert a.grad.tolist() == [1.5] * 3 and b.grad.tolist() == [2.0, 2.0]

# metrics are averaged over the ranks
assert dp.mean_metrics({"loss": torch.tensor([float(rank)])})["loss"].tolist() == [0.5]
# a file per rank: two processes printing at once can interleave their lines
with open(f"ok-{rank}", "w") as done:
    done.write("ok")
