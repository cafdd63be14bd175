"""A CNN on scikit-learn's 8x8 digits: Conv2d-BatchNorm-ReLU-MaxPool twice, then Linear.

Run: python examples/cnn_digits.py
"""

from _digits import accuracy, load_digits_split
from _progress import Progress

import irgrad as torch
import irgrad.nn as nn
from irgrad.utils.data import DataLoader, TensorDataset


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4 -> 2x2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 2 * 2, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main(epochs: int = 15) -> float:
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits_split()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=6, gamma=0.3)
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
        scheduler.step()
        progress.report(
            f"loss {total / len(y_train):.4f}  test accuracy {accuracy(model, x_test, y_test):.4f}"
        )
    final = accuracy(model, x_test, y_test)
    print(f"CNN test accuracy: {final:.4f}")
    return final


if __name__ == "__main__":
    main()
