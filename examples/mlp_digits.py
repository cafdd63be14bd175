"""An MLP classifier on scikit-learn's 8x8 digits: Linear-ReLU-Linear, Adam, DataLoader.

Run: python examples/mlp_digits.py
"""

from _digits import accuracy, load_digits_split
from _progress import Progress

import irgrad as torch
import irgrad.nn as nn
from irgrad.utils.data import DataLoader, TensorDataset


def main(epochs: int = 20) -> float:
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits_split()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    progress = Progress(range(1, epochs + 1), "epoch")
    for _ in progress:
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        progress.report(
            f"loss {total / len(y_train):.4f}  test accuracy {accuracy(model, x_test, y_test):.4f}"
        )
    final = accuracy(model, x_test, y_test)
    print(f"MLP test accuracy: {final:.4f}")
    return final


if __name__ == "__main__":
    main()
