"""irgrad's main demo: train a small classifier eagerly with PyTorch-style code.

Run: python examples/demo.py
"""

import irgrad as torch


def main() -> None:
    torch.manual_seed(0)
    # Two Gaussian blobs, labels 0/1.
    n = 512
    x = torch.cat([torch.randn(n, 2) + 2.0, torch.randn(n, 2) - 2.0])
    y = torch.cat([torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.int64)])

    w1 = (torch.randn(2, 16) * 0.5).requires_grad_()
    b1 = torch.zeros(16, requires_grad=True)
    w2 = (torch.randn(16, 2) * 0.5).requires_grad_()
    b2 = torch.zeros(2, requires_grad=True)
    params = [w1, b1, w2, b2]

    for step in range(101):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        loss = -torch.log_softmax(logits, dim=1).gather(1, y.unsqueeze(1)).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                p.grad = None
        if step % 20 == 0:
            accuracy = (logits.argmax(dim=1) == y).float().mean()
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy.item():.3f}")


if __name__ == "__main__":
    main()
