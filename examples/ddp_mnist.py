"""Data-parallel training of a digits classifier across processes, on MPI.

Each rank holds the model, trains on its shard of every epoch (DistributedSampler), and
DistributedDataParallel averages the gradients during backward(); rank 0 prints and
saves the checkpoint (atomically).  The forward runs compiled.

Run (2 processes on this machine):
    python -m irgrad.distributed.run --nproc-per-node 2 examples/ddp_mnist.py
or  mpiexec -n 2 python examples/ddp_mnist.py
It also runs as a single process: python examples/ddp_mnist.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _digits, when started by mpiexec

from _digits import accuracy, load_digits_split  # noqa: E402
from _progress import Progress  # noqa: E402

import irgrad as torch  # noqa: E402
import irgrad.distributed as dist  # noqa: E402
import irgrad.nn as nn  # noqa: E402
from irgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from irgrad.utils.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402


def main(epochs: int = 10, checkpoint: str | None = None) -> float:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits_split()
    dataset = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=64 // world, sampler=sampler)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    ddp = DDP(torch.compile(model))  # rank 0's weights reach every rank here
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    if rank == 0:
        print(f"data-parallel training ({world} ranks)")
    progress = Progress(range(1, epochs + 1), "epoch", enabled=rank == 0)  # rank 0 reports
    for epoch in progress:
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(ddp(x), y).backward()  # gradients averaged over the ranks here
            optimizer.step()
        if rank == 0:
            progress.report(f"test accuracy {accuracy(model, x_test, y_test):.4f}")
    final = accuracy(model, x_test, y_test)
    if rank == 0:
        print(f"DDP test accuracy: {final:.4f}")
        if checkpoint:
            torch.save(model.state_dict(), checkpoint)  # written atomically: never half a file
    dist.destroy_process_group()
    return final


if __name__ == "__main__":
    main()
