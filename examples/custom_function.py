"""A custom autograd.Function: a straight-through rounding op, checked and then trained.

``RoundSTE`` rounds in the forward pass but passes gradients straight through in the
backward pass (a common trick for quantisation-aware training). ``SmoothAbs`` has an
exact custom backward that gradcheck verifies against finite differences.

Run: python examples/custom_function.py
"""

from _progress import Progress

import irgrad as torch
import irgrad.nn as nn
from irgrad.autograd import Function, gradcheck


class SmoothAbs(Function):
    """sqrt(x^2 + eps): |x| with a smooth corner, with a hand-written backward."""

    @staticmethod
    def forward(ctx, x, eps=1e-3):
        y = torch.sqrt(x * x + eps)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        return grad_output * x / y, None


class RoundSTE(Function):
    """round(x) forwards, identity backwards."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


class QuantizedLinear(nn.Linear):
    """A Linear layer whose weights are rounded to multiples of 1/8 in the forward pass."""

    def forward(self, x):
        weight = RoundSTE.apply(self.weight * 8) / 8
        return nn.functional.linear(x, weight, self.bias)


def main(steps: int = 300) -> float:
    torch.manual_seed(0)
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    print("gradcheck(SmoothAbs):", gradcheck(SmoothAbs.apply, (x,)))

    inputs = torch.randn(512, 4)
    target = inputs @ torch.tensor([[0.5], [-1.25], [2.0], [0.375]]) + 0.25
    model = QuantizedLinear(4, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    progress = Progress(range(1, steps + 1), "step", every=100)
    for _ in progress:
        optimizer.zero_grad()
        loss = SmoothAbs.apply(model(inputs) - target).mean()
        loss.backward()
        optimizer.step()
        progress.report(f"smooth-L1 loss {loss.item():.4f}")
    print("learned (rounded) weights:", (torch.round(model.weight.detach() * 8) / 8).tolist())
    return loss.item()


if __name__ == "__main__":
    main()
