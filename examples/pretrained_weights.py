"""Weights trained and saved by PyTorch, loaded into the same model in irgrad in one line.

A small CNN for scikit-learn's 8x8 digits is defined once (``digits_cnn(nn)`` builds it
with ``torch.nn`` or with ``irgrad.nn``: the state-dict keys are the same). A checkpoint
written by ``torch.save(model.state_dict(), path)``, or a ``.safetensors`` file, loads
into the irgrad model with

    model.load_state_dict(irgrad.load(path))

and the example prints the test accuracy it gets. ``irgrad.load`` reads both formats
without torch and without running anything from the file.

Run: python examples/pretrained_weights.py CHECKPOINT [CHECKPOINT ...]
With no checkpoint it trains one with PyTorch first (when torch is installed) and saves
it both ways (``.safetensors`` needs the ``safetensors`` package).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _digits import accuracy, load_digits_split
from _progress import Progress

import irgrad


def digits_cnn(nn):
    """The classifier, built from ``nn`` (``torch.nn`` or ``irgrad.nn``)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4 -> 2x2
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


def load_pretrained(path: str | Path) -> irgrad.nn.Module:
    """The irgrad model with the weights in ``path`` (a torch.save file or .safetensors)."""
    model = digits_cnn(irgrad.nn)
    model.load_state_dict(irgrad.load(path))
    return model.eval()


def train_with_torch(out_dir: str | Path, epochs: int = 5) -> list[Path]:
    """Train the model with PyTorch and save its state dict both ways; returns the paths."""
    import torch

    x_train, y_train, x_test, y_test = (torch.from_numpy(t.numpy()) for t in load_digits_split())
    torch.manual_seed(0)
    model = digits_cnn(torch.nn)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True
    )
    progress = Progress(range(1, epochs + 1), "epoch")
    for _ in progress:
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        progress.report(f"loss {total / len(y_train):.4f}")
    model.eval()
    with torch.no_grad():
        torch_accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    print(f"trained with PyTorch {torch.__version__} ({epochs} epochs): test accuracy {torch_accuracy:.4f}")

    out = Path(out_dir)
    paths = [out / "digits_cnn.pt"]
    torch.save(model.state_dict(), paths[0])
    try:
        from safetensors.torch import save_file
    except ImportError:
        print("(no .safetensors file: pip install safetensors to write one)")
    else:
        paths.append(out / "digits_cnn.safetensors")
        save_file(model.state_dict(), paths[1])
    print("saved", ", ".join(str(p) for p in paths))
    return paths


def main(
    checkpoints: list[str] | None = None, epochs: int = 5, out_dir: str | None = None
) -> dict[str, float]:
    """Evaluate each checkpoint with irgrad (training one with PyTorch when none is given)."""
    if not checkpoints:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise SystemExit(
                "give a checkpoint: python examples/pretrained_weights.py PATH, where PATH was written by\n"
                "torch.save(model.state_dict(), PATH) (or is a .safetensors file) for digits_cnn(torch.nn);\n"
                "or install PyTorch (pip install torch) and run again to train and save one first."
            ) from None
        checkpoints = train_with_torch(out_dir or tempfile.mkdtemp(prefix="irgrad-pretrained-"), epochs)
    _, _, x_test, y_test = load_digits_split()
    results = {}
    for path in checkpoints:
        model = load_pretrained(path)
        results[str(path)] = accuracy(model, x_test, y_test)
        print(f"irgrad, weights from {path}: test accuracy {results[str(path)]:.4f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="*", help="torch.save or .safetensors files of digits_cnn")
    parser.add_argument("--epochs", type=int, default=5, help="PyTorch training epochs (without checkpoints)")
    parser.add_argument(
        "--out", help="where to save the trained checkpoints (default: a new temporary folder)"
    )
    args = parser.parse_args()
    main(args.checkpoints, args.epochs, args.out)
