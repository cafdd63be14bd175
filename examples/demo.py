"""irgrad's main demo: train a digit classifier eagerly, then compiled, and show the IR.

Run: python examples/demo.py

The code is ordinary PyTorch code with ``import irgrad as torch``. The same model is
trained twice from the same initial weights: once in eager mode, once through
``torch.compile``. Then the demo prints the traced, optimised forward and backward graphs.
"""

import copy
import time

from _digits import accuracy, load_digits_split
from _progress import Progress

import irgrad as torch
import irgrad.nn as nn
from irgrad.utils.data import DataLoader, TensorDataset


def train(model, forward, loader, epochs: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    progress = Progress(range(1, epochs + 1), "epoch")
    for _ in progress:
        total, count = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(forward(x), y)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(y), count + len(y)
        progress.report(f"loss {total / count:.4f}")
    return time.perf_counter() - start


def main(epochs: int = 5) -> None:
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits_split()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    twin = copy.deepcopy(model)

    print("eager training:")
    torch.manual_seed(1)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, drop_last=True)
    eager_time = train(model, model, loader, epochs)
    print(f"test accuracy {accuracy(model, x_test, y_test):.4f}  ({eager_time:.2f} s)")

    print("compiled training (irgrad.compile, llvm backend: native fused kernels):")
    compiled = torch.compile(twin)
    torch.manual_seed(1)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, drop_last=True)
    compiled_time = train(twin, compiled, loader, epochs)
    print(f"test accuracy {accuracy(twin, x_test, y_test):.4f}  ({compiled_time:.2f} s)")
    same = all(torch.allclose(p, q, atol=1e-5) for p, q in zip(model.parameters(), twin.parameters()))
    print(f"same weights as eager after {epochs} epochs: {same}")

    print("\nthe IR of the compiled training step:")
    compiled.explain()


if __name__ == "__main__":
    main()
