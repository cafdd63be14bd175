"""irgrad.utils.checkpoint: the checkpointed run gives the plain run's values and gradients
(dropout included, from the same generator state), recomputes in the backward, and
follows PyTorch's rules and errors."""

import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.utils.checkpoint import checkpoint, checkpoint_sequential


def _model(seed: int = 0) -> nn.Sequential:
    irgrad.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3), nn.Sigmoid()
    )


def _grads(model: nn.Module) -> list[np.ndarray]:
    return [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("how", ["checkpoint", "sequential2", "sequential3", "non_reentrant"])
def test_same_values_and_gradients_as_the_plain_run(how):
    x_data = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    plain, checked = _model(), _model()
    x_plain = irgrad.tensor(x_data, requires_grad=True)
    x_checked = irgrad.tensor(x_data, requires_grad=True)
    irgrad.manual_seed(7)
    expected = plain(x_plain)
    expected.sum().backward()
    irgrad.manual_seed(7)
    if how == "checkpoint":
        got = checkpoint(checked, x_checked, use_reentrant=True)
    elif how == "non_reentrant":
        got = checkpoint(lambda t, scale: checked(t) * scale, x_checked, use_reentrant=False, scale=1.0)
    else:
        got = checkpoint_sequential(checked, int(how[-1]), x_checked, use_reentrant=True)
    irgrad.manual_seed(99)  # the recomputation draws the forward's dropout masks, not the generator's now
    got.sum().backward()
    np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
    for a, b in zip(_grads(checked), _grads(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x_checked.grad.numpy(), x_plain.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_the_backward_recomputes_and_the_forward_records_nothing():
    calls = []

    def fn(t):
        calls.append(irgrad.is_grad_enabled())
        return (t * 2).exp()

    x = irgrad.ones(3, requires_grad=True)
    y = checkpoint(fn, x, use_reentrant=True)
    assert calls == [False] and type(y.grad_fn).__name__ == "CheckpointFunctionBackward"
    y.sum().backward()
    assert calls == [False, True]
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2.0) * np.ones(3), rtol=1e-6)


def test_generator_state_after_backward_is_the_callers():
    x = irgrad.ones(6, requires_grad=True)
    y = checkpoint(lambda t: nn.functional.dropout(t, 0.5), x, use_reentrant=True)
    irgrad.manual_seed(3)
    expected = irgrad.rand(4).numpy()
    irgrad.manual_seed(3)
    y.sum().backward()
    np.testing.assert_array_equal(irgrad.rand(4).numpy(), expected)


def test_rules_and_errors():
    x = irgrad.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2, x)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = checkpoint(lambda t: t * 2, irgrad.ones(2), use_reentrant=True)
    assert not out.requires_grad
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2.0)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda t: t, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(lambda t: t, x, use_reentrant=False, determinism_check="strict")
    y = checkpoint(lambda t: (t * 3).sum(), x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="incompatible with .grad"):
        irgrad.autograd.grad(y, x)
    y = checkpoint(lambda t: (t * 3).sum(), x, use_reentrant=False)
    (g,) = irgrad.autograd.grad(y, x)
    np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])


def test_messages_as_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    for lib, ckpt in ((irgrad, checkpoint), (torch, torch_checkpoint)):
        x = lib.ones(2, requires_grad=True)
        y = ckpt(lambda t: (t * 3).sum(), x, use_reentrant=True)
        with pytest.raises(RuntimeError) as err:
            lib.autograd.grad(y, x)
        assert "incompatible with .grad() or passing an `inputs` parameter to .backward()" in str(err.value)
        with pytest.raises(ValueError, match="Unexpected keyword arguments: a,b"):
            ckpt(lambda t, a, b: t, x, use_reentrant=True, a=1, b=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match="None of the inputs have requires_grad=True"):
                ckpt(lambda t: t * 2, lib.ones(2), use_reentrant=True)
