"""Run by tests/test_distributed.py under ``mpiexec -n 2``: one scenario per invocation,
each rank writing its results as JSON for the test to check."""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

import irgrad
import irgrad.distributed as dist
import irgrad.nn as nn
import irgrad.nn.functional as F


def collectives() -> dict:
    rank, size = dist.get_rank(), dist.get_world_size()
    out = {}
    t = irgrad.tensor([1.0, 2.0]) * (rank + 1)
    dist.all_reduce(t)
    out["sum"] = t.tolist()
    for name, op in (
        ("avg", dist.ReduceOp.AVG),
        ("max", dist.ReduceOp.MAX),
        ("min", dist.ReduceOp.MIN),
        ("prod", dist.ReduceOp.PRODUCT),
    ):
        t = irgrad.tensor([1.0, 2.0]) * (rank + 1)
        dist.all_reduce(t, op=op)
        out[name] = t.tolist()
    t = irgrad.full((3,), float(rank))
    work = dist.broadcast(t, src=1, async_op=True)
    work.wait()
    out["broadcast"] = t.tolist()
    parts = [irgrad.zeros(2) for _ in range(size)]
    dist.all_gather(parts, irgrad.full((2,), float(rank)))
    out["all_gather"] = [p.tolist() for p in parts]
    whole = irgrad.zeros(size * 2)
    dist.all_gather_into_tensor(whole, irgrad.full((2,), float(rank + 10)))
    out["all_gather_into_tensor"] = whole.tolist()
    mine = irgrad.zeros(2)
    dist.reduce_scatter_tensor(mine, irgrad.arange(size * 2, dtype=irgrad.float32) * (rank + 1))
    out["reduce_scatter"] = mine.tolist()
    strided = irgrad.arange(6, dtype=irgrad.float32).reshape(2, 3).t()  # not contiguous
    dist.all_reduce(strided)
    out["strided"] = strided.tolist()
    if rank == 0:
        dist.send(irgrad.tensor([7.0, 8.0]), dst=1)
    else:
        got = irgrad.zeros(2)
        out["source"] = dist.recv(got, src=0)
        out["recv"] = got.tolist()
    future = dist.all_reduce(irgrad.tensor([1.0, 2.0]) * (rank + 1), async_op=True).get_future()
    doubled = future.then(lambda done: done.value()[0] * 2)
    out["future"] = doubled.wait().tolist()
    works = [dist.broadcast(irgrad.full((2,), float(rank)), src=0, async_op=True) for _ in range(2)]
    gathered = irgrad.futures.collect_all([w.get_future() for w in works]).wait()
    out["collected"] = [f.value()[0].tolist() for f in gathered]
    dist.barrier()
    return out


def _model():
    irgrad.manual_seed(1234 + dist.get_rank())  # different initial weights on each rank
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def ddp(
    steps: int = 5,
    bucket_cap_mb: float = 25,
    compiled: bool = False,
    accumulate: bool = False,
    adam: bool = False,
) -> dict:
    """DDP over the ranks (4 samples each) against one process on the whole batch: the
    same parameters, step for step."""
    rank, size = dist.get_rank(), dist.get_world_size()
    batch = 4 * size
    local = _model()
    wrapped = irgrad.compile(local) if compiled else local
    model = nn.parallel.DistributedDataParallel(wrapped, bucket_cap_mb=bucket_cap_mb)
    reference = copy.deepcopy(local)  # rank 0's weights after the broadcast
    if adam:
        opt = irgrad.optim.Adam(model.parameters(), lr=0.01)
        ref_opt = irgrad.optim.Adam(reference.parameters(), lr=0.01)
    else:
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        ref_opt = irgrad.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = irgrad.tensor(rng.standard_normal((batch, 6)).astype(np.float32))
        y = irgrad.tensor(rng.integers(0, 3, batch))
        shard = slice(rank * 4, (rank + 1) * 4)
        opt.zero_grad()
        if accumulate:  # two half-shards, the first without communication
            half = (shard.stop - shard.start) // 2
            first, second = slice(shard.start, shard.start + half), slice(shard.start + half, shard.stop)
            with model.no_sync():
                (F.cross_entropy(model(x[first]), y[first]) * half / (shard.stop - shard.start)).backward()
            (
                F.cross_entropy(model(x[second]), y[second])
                * (shard.stop - shard.start - half)
                / (shard.stop - shard.start)
            ).backward()
        else:
            F.cross_entropy(model(x[shard]), y[shard]).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        ref_opt.step()
    worst = max(
        float(np.abs(a.detach().numpy() - b.detach().numpy()).max())
        for a, b in zip(local.parameters(), reference.parameters())
    )
    result = {"worst": worst, "buckets": len(model._buckets)}
    if compiled:
        result["graph_breaks"] = wrapped.explain().graph_break_count
        result["native"] = "native call" in wrapped.explain()
    return result


def unused(find: bool) -> dict:
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.a(x)

    model = nn.parallel.DistributedDataParallel(TwoHeads(), find_unused_parameters=find)
    out = {}
    for step in range(2):
        try:
            model(irgrad.ones(2, 4)).sum().backward()
            out[f"step{step}"] = "ok"
        except RuntimeError as error:
            out[f"step{step}"] = str(error)[:60]
    out["b_grad"] = model.module.b.weight.grad is None
    return out


def sampler() -> dict:
    from irgrad.utils.data import DistributedSampler

    s = DistributedSampler(range(10), shuffle=False)
    t = DistributedSampler(range(10), shuffle=True, seed=3)
    epochs = []
    for epoch in range(2):
        t.set_epoch(epoch)
        epochs.append(list(t))
    return {"plain": list(s), "shuffled": epochs, "len": len(s)}


def fails() -> dict:
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.all_reduce(irgrad.ones(2))  # rank 0 would wait forever for rank 1
    return {"unreachable": True}


def sync_batch_norm(
    momentum: float | None = 0.1, affine: bool = True, track: bool = True, first: int = 4
) -> dict:
    """Two training steps of SyncBatchNorm on this rank's part of one global batch of 6
    (rank 0 takes the ``first`` samples, rank 1 the rest: possibly none), then an
    evaluation step."""
    data = np.random.default_rng(0).standard_normal((2, 6, 3, 5)).astype(np.float32)
    upstream = np.random.default_rng(1).standard_normal((6, 3, 5)).astype(np.float32)
    part = slice(0, first) if dist.get_rank() == 0 else slice(first, 6)
    norm = nn.SyncBatchNorm(3, momentum=momentum, affine=affine, track_running_stats=track)
    if affine:
        with irgrad.no_grad():
            norm.weight.copy_(irgrad.tensor([0.5, 1.5, -2.0]))
            norm.bias.copy_(irgrad.tensor([0.1, 0.0, 0.3]))
    out = {"out": [], "input_grad": [], "weight_grad": [], "bias_grad": []}
    for step in range(2):
        x = irgrad.tensor(data[step, part], requires_grad=True)
        y = norm(x)
        norm.zero_grad()
        (y * irgrad.tensor(upstream[part])).sum().backward()
        out["out"].append(y.tolist())
        out["input_grad"].append(x.grad.tolist())
        out["weight_grad"].append(norm.weight.grad.tolist() if affine else None)
        out["bias_grad"].append(norm.bias.grad.tolist() if affine else None)
    if track:
        out["running_mean"] = norm.running_mean.tolist()
        out["running_var"] = norm.running_var.tolist()
        out["num_batches_tracked"] = int(norm.num_batches_tracked)
    out["eval"] = norm.eval()(irgrad.tensor(data[0, part])).tolist()
    return out


def dies() -> dict:
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # no exception, no cleanup: the process is gone
    dist.all_reduce(irgrad.ones(2))
    return {"unreachable": True}


SCENARIOS = {
    "collectives": collectives,
    "ddp": ddp,
    "ddp_small_buckets": lambda: ddp(bucket_cap_mb=0.0005),
    "ddp_compiled": lambda: ddp(compiled=True),
    "ddp_adam": lambda: ddp(adam=True),
    "ddp_adam_compiled": lambda: ddp(adam=True, compiled=True),
    "ddp_no_sync": lambda: ddp(accumulate=True),
    "unused_found": lambda: unused(True),
    "unused_missed": lambda: unused(False),
    "sampler": sampler,
    "sync_batch_norm": sync_batch_norm,
    "sync_batch_norm_cumulative": lambda: sync_batch_norm(momentum=None),
    "sync_batch_norm_plain": lambda: sync_batch_norm(affine=False),
    "sync_batch_norm_untracked": lambda: sync_batch_norm(track=False),
    "sync_batch_norm_empty_rank": lambda: sync_batch_norm(first=6),
    "fails": fails,
    "dies": dies,
}


if __name__ == "__main__":
    # python distributed_worker.py SCENARIO OUT_DIR: each rank writes OUT_DIR/rank<r>.json
    # (the ranks share stdout, where their lines could interleave)
    dist.init_process_group("mpi")
    result = SCENARIOS[sys.argv[1]]()
    (Path(sys.argv[2]) / f"rank{dist.get_rank()}.json").write_text(json.dumps(result))
    dist.destroy_process_group()
