"""irgrad.distributed on MPI, across 2 real processes (``mpiexec -n 2``), issue 15.

Each test runs one scenario of ``distributed_worker.py`` under mpiexec and checks every
rank's JSON line.  Skipped when mpi4py or mpiexec is missing (``pip install
'irgrad[distributed]'`` installs both).  The single-process pieces (the sampler's index
arithmetic against PyTorch's, the launcher's command line) need no MPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import irgrad
from irgrad.distributed import run as launcher
from irgrad.utils.data import DistributedSampler

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")
MPI = irgrad.distributed.is_available() and shutil.which("mpiexec") is not None
needs_mpi = pytest.mark.skipif(not MPI, reason="needs mpi4py and mpiexec: pip install 'irgrad[distributed]'")


def launch(scenario: str, ranks: int = 2, timeout: float = 120) -> tuple[int, dict[int, dict], str]:
    """(exit code, rank -> result, stderr) of one scenario under mpiexec."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [shutil.which("mpiexec"), "-n", str(ranks), sys.executable, str(WORKER), scenario, out],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        results = {int(p.stem[4:]): json.loads(p.read_text()) for p in Path(out).glob("rank*.json")}
    return done.returncode, results, done.stderr


@needs_mpi
def test_collectives_across_two_processes():
    code, results, err = launch("collectives")
    assert code == 0 and set(results) == {0, 1}, err
    for rank, r in results.items():
        assert r["sum"] == [3.0, 6.0] and r["avg"] == [1.5, 3.0] and r["prod"] == [2.0, 8.0]
        assert r["max"] == [2.0, 4.0] and r["min"] == [1.0, 2.0]
        assert r["broadcast"] == [1.0, 1.0, 1.0]
        assert r["all_gather"] == [[0.0, 0.0], [1.0, 1.0]]
        assert r["all_gather_into_tensor"] == [10.0, 10.0, 11.0, 11.0]
        assert r["reduce_scatter"] == ([0.0, 3.0] if rank == 0 else [6.0, 9.0])  # sum of 1x and 2x arange(4)
        assert r["strided"] == [[0.0, 6.0], [2.0, 8.0], [4.0, 10.0]]
    assert results[1]["recv"] == [7.0, 8.0] and results[1]["source"] == 0
    for r in results.values():
        assert r["future"] == [6.0, 12.0]  # (1 + 2) * [1, 2], doubled by the chained future
        assert r["collected"] == [[0.0, 0.0], [0.0, 0.0]]


@needs_mpi
@pytest.mark.parametrize(
    "scenario,ranks",
    [
        ("ddp", 2),
        ("ddp", 3),
        ("ddp_small_buckets", 2),
        ("ddp_no_sync", 2),
        ("ddp_compiled", 2),
        ("ddp_adam", 2),
        ("ddp_adam_compiled", 3),
    ],
)
def test_ddp_trains_as_one_process_on_the_whole_batch(scenario, ranks):
    """Ranks with different initial weights (rank 0's are broadcast), each on its share of
    every batch, end with the parameters of one process trained on the whole batches."""
    code, results, err = launch(scenario, ranks)
    assert code == 0 and set(results) == set(range(ranks)), err
    for r in results.values():
        assert r["worst"] < 1e-6, r
    if scenario == "ddp_small_buckets":
        assert results[0]["buckets"] > 1
    if "compiled" in scenario:
        assert results[0]["graph_breaks"] == 0 and results[0]["native"]


@needs_mpi
def test_unused_parameters_need_find_unused_parameters():
    code, results, err = launch("unused_found")
    assert code == 0 and all(r["step0"] == r["step1"] == "ok" for r in results.values()), err
    code, results, err = launch("unused_missed")
    assert code == 0, err
    assert all(
        r["step0"] == "ok" and r["step1"].startswith("Expected to have finished") for r in results.values()
    )


@needs_mpi
@pytest.mark.parametrize(
    "scenario, momentum, affine, track, first",
    [
        ("sync_batch_norm", 0.1, True, True, 4),
        ("sync_batch_norm_cumulative", None, True, True, 4),
        ("sync_batch_norm_plain", 0.1, False, True, 4),
        ("sync_batch_norm_untracked", 0.1, True, False, 4),
        ("sync_batch_norm_empty_rank", 0.1, True, True, 6),
    ],
)
def test_sync_batch_norm_normalizes_by_the_global_batch(scenario, momentum, affine, track, first):
    """Two ranks holding parts of 6 samples (4 and 2, or all 6 and none) train as one
    BatchNorm on all 6: outputs, input gradients (of the sum of both ranks' losses),
    running statistics and evaluation as one process's; weight and bias gradients are
    each rank's share of the whole one."""
    code, results, err = launch(scenario)
    assert code == 0 and set(results) == {0, 1}, err
    data = np.random.default_rng(0).standard_normal((2, 6, 3, 5)).astype(np.float32)
    upstream = irgrad.tensor(np.random.default_rng(1).standard_normal((6, 3, 5)).astype(np.float32))
    norm = irgrad.nn.BatchNorm1d(3, momentum=momentum, affine=affine, track_running_stats=track)
    if affine:
        with irgrad.no_grad():
            norm.weight.copy_(irgrad.tensor([0.5, 1.5, -2.0]))
            norm.bias.copy_(irgrad.tensor([0.1, 0.0, 0.3]))
    close = {"rtol": 1e-5, "atol": 1e-5}
    both = [results[r] for r in (0, 1)]

    def joined(values: list) -> np.ndarray:
        return np.concatenate([np.array(v, dtype=np.float32).reshape(-1, 3, 5) for v in values])

    for step in range(2):
        x = irgrad.tensor(data[step], requires_grad=True)
        y = norm(x)
        norm.zero_grad()
        (y * upstream).sum().backward()
        np.testing.assert_allclose(joined([r["out"][step] for r in both]), y.detach().numpy(), **close)
        np.testing.assert_allclose(joined([r["input_grad"][step] for r in both]), x.grad.numpy(), **close)
        if affine:
            for name, whole in (("weight_grad", norm.weight.grad), ("bias_grad", norm.bias.grad)):
                np.testing.assert_allclose(sum(np.array(r[name][step]) for r in both), whole.numpy(), **close)
    if track:
        for r in both:
            np.testing.assert_allclose(r["running_mean"], norm.running_mean.numpy(), **close)
            np.testing.assert_allclose(r["running_var"], norm.running_var.numpy(), **close)
            assert r["num_batches_tracked"] == 2
        evaluated = norm.eval()(irgrad.tensor(data[0])).detach().numpy()
        np.testing.assert_allclose(joined([r["eval"] for r in both]), evaluated, **close)


@needs_mpi
def test_a_failing_rank_stops_the_job_with_an_error_not_a_hang():
    code, results, err = launch("fails", timeout=60)
    assert code != 0 and not results
    assert "rank 1 fails on purpose" in err


@needs_mpi
def test_a_killed_rank_stops_the_job_not_a_hang():
    code, results, err = launch("dies", timeout=60)
    assert code != 0 and not results


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_distributed_sampler_shards_cover_the_data_once_per_epoch(ranks):
    code, results, err = launch("sampler", ranks)
    assert code == 0, err
    padded = -(-10 // ranks) * ranks  # 10 indices padded to a multiple of the ranks
    for epoch in range(2):
        seen = sorted(i for r in results.values() for i in r["shuffled"][epoch])
        assert len(seen) == padded and sorted(set(seen)) == list(range(10))
    assert results[0]["shuffled"][0] != results[0]["shuffled"][1]  # set_epoch reshuffles
    plain = [i for k in range(padded // ranks) for r in range(ranks) for i in [results[r]["plain"][k]]]
    assert plain == (list(range(10)) + list(range(10)))[:padded]


@pytest.mark.parametrize(
    "n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False), (12, 4, False)]
)
def test_distributed_sampler_splits_as_pytorchs(n, replicas, drop_last):
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for rank in range(replicas):
        mine = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(mine) == list(theirs) and len(mine) == len(theirs)


def test_distributed_sampler_shuffles_per_epoch_and_checks_its_rank():
    s = DistributedSampler(range(20), 2, 0, seed=1)
    first = list(s)
    s.set_epoch(1)
    assert sorted(first) != first or list(s) != first
    assert list(DistributedSampler(range(20), 2, 0, seed=1)) == first  # seeded: reproducible
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(range(4), 2, 2)


def test_launcher_command_line(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/mpiexec")
    captured = {}
    monkeypatch.setattr(os, "execv", lambda path, line: captured.update(path=path, line=line))
    launcher.main(["--nproc-per-node", "3", "--hosts", "a,b", "train.py", "--epochs", "2"])
    assert captured["line"][:5] == ["/usr/bin/mpiexec", "-n", "3", "-hosts", "a,b"]
    assert captured["line"][-3:] == ["train.py", "--epochs", "2"]


def test_collectives_need_an_initialized_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        irgrad.distributed.all_reduce(irgrad.ones(2))
    assert not irgrad.distributed.is_initialized() and irgrad.distributed.get_rank() == -1


@needs_mpi
def test_the_ddp_example_trains_with_the_launcher():
    pytest.importorskip("sklearn")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "irgrad.distributed.run",
            "--nproc-per-node",
            "2",
            str(ROOT / "examples" / "ddp_mnist.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("DDP test accuracy")]
    assert float(line.split()[-1]) > 0.9
    assert "(2 ranks)" in done.stdout
