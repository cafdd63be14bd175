"""Data-parallel training on MPI: allreduce bandwidth, W2 on 2 ranks, and how much of
the gradient allreduce DistributedDataParallel hides behind the backward.

Run: ``python -m benchmarks.bench_distributed`` (it starts ``mpiexec -n 2`` itself; needs
``pip install -e ".[distributed]"``).  Three measurements, in one run:

1. ``all_reduce`` of 1 KB to 64 MB of float32 between 2 ranks: time and bus bandwidth
   (``2 (n-1)/n * bytes / time``), beside this machine's copy bandwidth;
2. W2's training step (MLP 784-1024-1024-10, batch 256, SGD): 1 process with 2 BLAS
   threads against 2 ranks of 1 thread each on half the batch (DDP);
3. the overlap: a rank's DDP backward minus its plain backward, against the time of
   allreducing all gradients after the backward: the share of the allreduce hidden.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .machine import measure_limits, thread_env

ROOT = Path(__file__).resolve().parents[1]


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _w2(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
    )


def rank_main(out_dir: str) -> None:
    """What each rank runs under mpiexec."""
    import irgrad
    import irgrad.distributed as dist
    import irgrad.nn.functional as F

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    result: dict = {"allreduce": []}
    for nbytes in [2**k for k in range(10, 27, 2)]:
        t = irgrad.ones(nbytes // 4)
        dist.barrier()
        seconds = _median_time(lambda t=t: dist.all_reduce(t), 20 if nbytes < 2**22 else 5)
        result["allreduce"].append((nbytes, seconds))

    rng = np.random.default_rng(0)
    x = irgrad.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    y = irgrad.tensor(rng.integers(0, 10, 256))
    shard = slice(rank * 256 // size, (rank + 1) * 256 // size)
    irgrad.manual_seed(0)
    local = _w2(irgrad)
    opt = irgrad.optim.SGD(local.parameters(), lr=0.01)

    def step(m) -> None:
        opt.zero_grad()
        F.cross_entropy(m(x[shard]), y[shard]).backward()
        opt.step()

    def backward_only(m) -> float:
        opt.zero_grad()
        loss = F.cross_entropy(m(x[shard]), y[shard])
        dist.barrier()
        start = time.perf_counter()
        loss.backward()
        return time.perf_counter() - start

    result["buckets"] = {}
    for cap in (25, 1):  # the default buckets (one, for W2's 7.5 MB), and 1 MB ones
        model = irgrad.nn.parallel.DistributedDataParallel(local, bucket_cap_mb=cap)
        result["buckets"][cap] = {
            "count": len(model._buckets),
            "step": _median_time(lambda model=model: step(model), 20),
            "backward": float(np.median([backward_only(model) for _ in range(20)])),
        }
        with model.no_sync():
            result["local_backward"] = float(np.median([backward_only(model) for _ in range(20)]))
        for p in local.parameters():  # the next wrapper registers its own hooks
            p.__dict__.pop("_post_accumulate_hooks", None)
    grads = [p.grad for p in local.parameters()]
    flat = irgrad.tensor(np.concatenate([g.numpy().reshape(-1) for g in grads]))
    dist.barrier()
    result["allreduce_grads"] = _median_time(lambda: dist.all_reduce(flat), 20)
    result["grad_mb"] = flat.numel() * 4 / 1e6
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


def single_process_w2() -> float:
    import irgrad
    import irgrad.nn.functional as F

    rng = np.random.default_rng(0)
    x = irgrad.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    y = irgrad.tensor(rng.integers(0, 10, 256))
    irgrad.manual_seed(0)
    model = _w2(irgrad)
    opt = irgrad.optim.SGD(model.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return _median_time(step, 20)


def main() -> None:
    if shutil.which("mpiexec") is None:
        raise SystemExit('needs mpiexec: pip install -e ".[distributed]"')
    env = {**os.environ, **thread_env(1), "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                shutil.which("mpiexec"),
                "-n",
                "2",
                sys.executable,
                "-m",
                "benchmarks.bench_distributed",
                "--rank",
                out,
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )
        ranks = [json.loads((Path(out) / f"rank{r}.json").read_text()) for r in range(2)]
    two_threads = subprocess.run(
        [sys.executable, "-c", "from benchmarks.bench_distributed import single_process_w2 as f; print(f())"],
        check=True,
        env={**os.environ, **thread_env(2), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    single = float(two_threads.stdout.split()[-1])
    copy_gbs = measure_limits(sgemm_n=256, copy_mb=64).copy_gbs
    print(f"machine copy bandwidth: {copy_gbs:.1f} GB/s\n")
    print("all_reduce between 2 ranks (float32):")
    print("  bytes        time       bus bandwidth   vs copy")
    for nbytes, seconds in ranks[0]["allreduce"]:
        bus = nbytes / seconds / 1e9  # 2 (n-1)/n = 1 for n = 2
        print(f"  {nbytes:>10,}  {seconds * 1e6:9.1f} us  {bus:7.2f} GB/s    {bus / copy_gbs:5.2f}x")
    r = ranks[0]
    print(f"\nW2 training step, 1 process x 2 threads: {single * 1e3:.1f} ms")
    print(
        f"allreduce of all {r['grad_mb']:.1f} MB of gradients after a backward: {r['allreduce_grads'] * 1e3:.2f} ms; "
        f"a backward without communication: {r['local_backward'] * 1e3:.2f} ms"
    )
    for cap, b in r["buckets"].items():
        exposed = max(0.0, b["backward"] - r["local_backward"])
        hidden = 1 - min(1.0, exposed / r["allreduce_grads"])
        print(
            f"  DDP, {b['count']} bucket(s) of <= {cap} MB: step on 2 ranks x 1 thread {b['step'] * 1e3:.1f} ms "
            f"({b['step'] / single:.2f}x the single process); backward {b['backward'] * 1e3:.2f} ms: "
            f"{hidden:.0%} of the allreduce hidden behind the backward"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rank":
        rank_main(sys.argv[2])
    else:
        main()
