"""Non-tensor arguments where a public function takes a tensor: PyTorch's TypeError
(irgrad._arguments: @tensor_arguments), without torch."""

from __future__ import annotations

import inspect

import pytest

import irgrad
from irgrad import Tensor
from irgrad._arguments import tensor_arguments, unchecked_method


def _sample(input: Tensor, weight: Tensor | None = None, *, scale: float = 1.0) -> Tensor:
    """A sample function."""
    return input._data * scale + (0 if weight is None else weight._data)


def test_a_checked_function_keeps_its_name_doc_and_signature():
    fn = tensor_arguments(_sample)
    assert fn.__name__ == "_sample" and fn.__doc__ == "A sample function."
    assert inspect.signature(fn) == inspect.signature(_sample)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f: f([1.0]), r"_sample\(\): argument 'input' \(position 1\) must be Tensor, not list"),
        (lambda f: f(irgrad.ones(1), 2), r"argument 'weight' \(position 2\) must be Tensor, not int"),
        (
            lambda f: f(irgrad.ones(1), weight=(1,)),
            r"argument 'weight' \(position 2\) must be Tensor, not tuple",
        ),
    ],
)
def test_non_tensors_raise_pytorchs_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call(tensor_arguments(_sample))


def test_correct_calls_and_other_attribute_errors_are_untouched():
    fn = tensor_arguments(_sample)
    assert fn(irgrad.ones(2), None, scale=2.0).tolist() == [2.0, 2.0]

    def broken(input: Tensor) -> Tensor:
        return input.no_such_attribute

    with pytest.raises(AttributeError, match="no_such_attribute"):
        tensor_arguments(broken)(irgrad.ones(1))


def test_a_function_without_tensor_parameters_cannot_be_decorated():
    def plain(x, n: int = 1):
        return x

    with pytest.raises(TypeError, match="no parameter annotated Tensor"):
        tensor_arguments(plain)


def test_methods_whose_only_tensor_is_self_skip_the_check():
    exp = irgrad.tensor_ops.pointwise.exp
    assert irgrad.Tensor.exp is unchecked_method(exp) is exp.__wrapped__
    matmul = irgrad.tensor_ops.linalg.matmul  # 'other' is a tensor too: still checked
    assert irgrad.Tensor.matmul is matmul


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: irgrad.ones(3) @ [1.0, 2.0, 3.0], r"matmul\(\): argument 'other'"),
        (lambda: irgrad.nn.Linear(3, 2)([1.0, 2.0, 3.0]), r"linear\(\): argument 'input'"),
        (lambda: irgrad.ones_like([1, 2]), r"ones_like\(\): argument 'input'"),
        (lambda: irgrad.exp(2.0), r"exp\(\): argument 'input' \(position 1\) must be Tensor, not float"),
        (lambda: irgrad.cat([irgrad.ones(1), [2.0]]), r"cat\(\): expected Tensor as element 1"),
        (lambda: irgrad.nn.functional.mse_loss([1.0], irgrad.ones(1)), r"mse_loss\(\): argument 'input'"),
        (
            lambda: irgrad.nn.functional.conv2d(irgrad.ones(1, 1, 3, 3), [[1.0]]),
            r"conv2d\(\): argument 'weight'",
        ),
    ],
)
def test_public_functions_name_the_argument(call, message):
    with pytest.raises(TypeError, match=message):
        call()
