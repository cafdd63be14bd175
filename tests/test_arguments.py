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
    exp = irgrad.tensor_ops.pointwise.exp  # checks in its own body: no wrapper at all
    assert irgrad.Tensor.exp is unchecked_method(exp, "exp") is exp
    assert [spec.name for spec in exp.tensor_parameters] == ["input"]
    softplus = irgrad.nn.functional.softplus
    assert unchecked_method(softplus, "softplus") is softplus.__wrapped__
    matmul = irgrad.tensor_ops.linalg.matmul  # 'other' is a tensor too: still checked
    assert irgrad.Tensor.matmul is matmul


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: irgrad.matmul(irgrad.ones(3), [1.0, 2.0, 3.0]), r"matmul\(\): argument 'other'"),
        # an operator returns NotImplemented for a list, and Python raises (as with torch)
        (
            lambda: irgrad.ones(3) @ [1.0, 2.0, 3.0],
            r"unsupported operand type\(s\) for @: 'Tensor' and 'list'",
        ),
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


def _public_functions():
    """Every public function irgrad defines in the namespaces users call."""
    import types

    namespaces = [irgrad, irgrad.nn.functional]
    seen = {}
    for namespace in namespaces:
        for name in dir(namespace):
            fn = getattr(namespace, name)
            if (
                not name.startswith("_")
                and isinstance(fn, types.FunctionType)
                and (fn.__module__ or "").startswith("irgrad")
            ):
                seen.setdefault(fn, f"{namespace.__name__}.{name}")
    return seen


def test_every_public_function_checks_its_tensor_parameters():
    # PyTorch's names for tensor parameters; each must be checked wherever it appears.
    tensor_names = {
        "input",
        "other",
        "tensor",
        "tensors",
        "self",
        "end",
        "weight",
        "bias",
        "target",
        "mat1",
        "mat2",
    }
    unchecked = []
    for fn, where in _public_functions().items():
        checked = {spec.name for spec in getattr(fn, "tensor_parameters", ())}
        parameters = inspect.signature(getattr(fn, "__wrapped__", fn)).parameters.values()
        for p in parameters:
            if p.name in tensor_names and p.name not in checked and "Tensor" in str(p.annotation):
                unchecked.append(f"{where}({p.name}: {p.annotation})")
            elif p.name in {"input", "other", "tensors"} and p.annotation is inspect.Parameter.empty:
                unchecked.append(f"{where}({p.name}) is not annotated")
    assert not unchecked, unchecked


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "eq", "bitwise_and"])
def test_binary_functions_take_tensors_or_numbers(name):
    fn = getattr(irgrad, name)
    x = irgrad.tensor([1, 2]) if name == "bitwise_and" else irgrad.tensor([1.0, 2.0])
    assert fn(x, 2).shape == (2,) and fn(2, x).shape == (2,)
    second = "exponent" if name == "pow" else "other"
    with pytest.raises(
        TypeError, match=rf"{name}\(\): argument '{second}' \(position 2\) must be Tensor, not list"
    ):
        fn(x, [1, 2])
    with pytest.raises(
        TypeError, match=rf"{name}\(\): argument 'input' \(position 1\) must be Tensor, not str"
    ):
        fn("a", x)
    with pytest.raises(TypeError, match=r"must be Tensor, not NoneType"):
        fn(x, None)


def test_the_wrapper_has_the_functions_own_signature():
    def every_kind(
        a, /, input: Tensor, other: Tensor | float = 2.0, *rest, key: Tensor | None = None, **extra
    ):
        return a, input, other, rest, key, extra

    fn = tensor_arguments(every_kind)
    assert inspect.signature(fn) == inspect.signature(every_kind)
    x = irgrad.ones(1)
    assert fn(0, x) == (0, x, 2.0, (), None, {})
    assert fn(0, x, x, 5, 6, key=x, flag=True) == (0, x, x, (5, 6), x, {"flag": True})
    for wrong_call in (lambda f: f(a=0, input=x), lambda f: f(0), lambda f: f(0, x, key=x, other=1, input=x)):
        with pytest.raises(TypeError) as direct:  # a wrong call fails as the function itself does
            wrong_call(every_kind)
        with pytest.raises(TypeError) as wrapped:
            wrong_call(fn)
        assert str(wrapped.value) == str(direct.value)
    assert [spec.name for spec in fn.tensor_parameters] == ["input", "other", "key"]


def test_errors_that_are_not_about_argument_types_pass_through():
    def fails(input: Tensor | float) -> Tensor:
        raise TypeError("a message of its own")

    with pytest.raises(TypeError, match="a message of its own"):
        tensor_arguments(fails)(1.0)
