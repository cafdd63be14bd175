"""Regression with MSELoss and SGD with momentum: fit y = sin(3x) + x^2 / 2 with a small MLP.

Run: python examples/regression_sgd.py
"""

from _progress import Progress

import irgrad as torch
import irgrad.nn as nn


def main(steps: int = 2000) -> float:
    torch.manual_seed(0)
    x = torch.linspace(-2, 2, 256).unsqueeze(1)
    y = torch.sin(3 * x) + 0.5 * x**2 + 0.05 * torch.randn(256, 1)
    model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.MSELoss()
    progress = Progress(range(1, steps + 1), "step", every=400)
    for _ in progress:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        progress.report(f"mse {loss.item():.5f}")
    final = loss.item()
    print(f"final training MSE: {final:.5f} (noise variance 0.0025)")
    return final


if __name__ == "__main__":
    main()
