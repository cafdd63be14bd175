"""``irgrad.autograd.functional``: Jacobians, Hessians and their products with vectors
(``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``vhp``, ``hvp``), as PyTorch's.

Each takes a function of tensors and a tensor or tuple of tensors to evaluate it at, and
answers in the same tuple structure: a tensor where the function took (or returned) one
tensor, a tuple where it took a tuple.  All are built on :func:`~.engine.grad`:

* ``vjp``, ``jacobian`` (one vector-Jacobian product per output element, or one batched
  product with ``vectorize=True``) and ``vhp`` run the engine backwards;
* ``jvp`` and ``hvp`` need forward-mode products, which they get by the double-backward
  trick: the gradient of ``g -> J^T g`` (a linear function of a dummy ``g``) with respect
  to ``g``, applied to ``v``, is ``J v``.

The function runs on detached copies of the inputs that require grad (with
``create_graph``, on views of inputs that require grad, so results stay differentiable
with respect to them); results are detached unless ``create_graph``.  An input the
function's outputs do not depend on gets zeros, or, with ``strict``, an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..creation import eye, zeros_like
from ..recording.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from ..tensor import Tensor
from ..tensor_ops.split_join import stack
from .engine import grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _tensors(value: Any, what: str, fn: str) -> tuple[bool, tuple[Tensor, ...]]:
    """(whether ``value`` was a tuple, ``value`` as a tuple of tensors)."""
    was_tuple = isinstance(value, tuple)
    items = value if was_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"the value at index {i} has type" if was_tuple else f"the given {what} has type"
            raise TypeError(
                f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but {where} {type(item)}."
            )
    return was_tuple, items


def _shaped(results: tuple, *was_tuple: bool) -> Any:
    """``results`` (nested one level per flag) unwrapped where the flag says a tensor was given."""
    if len(was_tuple) == 2 and not was_tuple[1]:
        results = tuple(row[0] for row in results)
    return results if was_tuple[0] else results[0]


def _differentiable(inputs: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple[Tensor, ...]:
    """What the function runs on: with ``create_graph``, a view of each input that requires
    grad (its results stay connected to it); else a detached copy requiring ``need_graph``."""
    return tuple(
        x.view_as(x) if create_graph and x.requires_grad else x.detach().requires_grad_(need_graph)
        for x in inputs
    )


def _returned(results: tuple, create_graph: bool) -> tuple:
    """Results detached unless ``create_graph`` (nested tuples too)."""
    if create_graph:
        return results
    return tuple(r.detach() if isinstance(r, Tensor) else _returned(r, create_graph) for r in results)


def _check_vectors(v: tuple[Tensor, ...], like: tuple[Tensor, ...], like_tuple: bool) -> None:
    if len(v) != len(like):
        if like_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            entry = f"Entry {i} in " if like_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {b.size()} but got {a.size()}.")


_STRICT_MESSAGES = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be "
    "computed in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the "
    "user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with "
    "respect to input {i} is independent of the input. This is not allowed in strict mode. You should "
    "ensure that your function is twice differentiable and that the jacobian depends on the inputs (this "
    "would be violated by a linear function for example).",
    "hessian": "The hessian of the user-provided function with respect to input {i} is independent of the "
    "input. This is not allowed in strict mode. You should ensure that your function is thrice "
    "differentiable and that the hessian depends on the inputs.",
}


def _require_grad(values: tuple, kind: str, strict: bool) -> None:
    """With ``strict``: every value exists and requires grad (``kind`` words the error)."""
    if not strict:
        return
    for i, value in enumerate(values):
        if value is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This is not "
                "allowed in strict mode."
            )
        if not value.requires_grad:
            raise RuntimeError(_STRICT_MESSAGES[kind].format(i=i))


def _grad(
    outputs: tuple, inputs: tuple, grad_outputs=None, create_graph=False, retain_graph=None, batched=False
):
    """``grad`` of the outputs that require grad (None for every input when none does)."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    kept, kept_grads = zip(*pairs)
    return grad(
        kept,
        inputs,
        list(kept_grads),
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
        is_grads_batched=batched,
    )


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
    "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs "
    "when using the double backward trick to compute forward mode gradients. This is not allowed in strict "
    "mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
    "grad_jacobian. This is not allowed in strict mode as it prevents from using the double backward trick "
    "to replace forward mode AD.",
}


def _zeros_for_missing(grads: tuple, like: tuple, strict: bool, create_graph: bool, stage: str) -> tuple:
    """``grads`` with zeros shaped as ``like`` for the missing ones (``strict``: an error)."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This is not allowed "
                "in strict mode when create_graph=True."
            )
        out.append(g)
    return tuple(out)


def _prepare(fn: str, func: Callable, inputs, v, create_graph: bool, strict: bool, v_like: str):
    """Run ``func`` on differentiable inputs: (inputs tuple?, inputs, v, outputs tuple?,
    outputs); ``v`` is checked against the inputs (``v_like="inputs"``) or the outputs."""
    was_tuple, inputs = _tensors(inputs, "inputs", fn)
    inputs = _differentiable(inputs, create_graph, need_graph=True)
    if v is not None:
        v = _differentiable(_tensors(v, "v", fn)[1], create_graph, need_graph=False)
        if v_like == "inputs":
            _check_vectors(v, inputs, was_tuple)
    elif v_like == "inputs" and (len(inputs) != 1 or inputs[0].numel() != 1):
        raise RuntimeError(
            "The vector v can only be None if the input to the user-provided function is a single Tensor "
            "with a single element."
        )
    out_tuple, outputs = _tensors(func(*inputs), "outputs of the user-provided function", fn)
    _require_grad(outputs, "outputs", strict)
    if v_like == "outputs":
        if v is not None:
            _check_vectors(v, outputs, out_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the user-provided function returns a single Tensor with a "
                "single element."
            )
    return was_tuple, inputs, v, out_tuple, outputs


def _single_output(fn: str, out_tuple: bool, outputs: tuple) -> None:
    if out_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn} should contain a single element"
        )


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        was_tuple, inputs, v, out_tuple, outputs = _prepare(
            "vjp", func, inputs, v, create_graph, strict, "outputs"
        )
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        products = _zeros_for_missing(grads, inputs, strict, create_graph, "back")
    return _shaped(_returned(outputs, create_graph), out_tuple), _shaped(
        _returned(products, create_graph), was_tuple
    )


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product at ``inputs`` (double-backward trick)."""
    with enable_grad():
        was_tuple, inputs, v, out_tuple, outputs = _prepare(
            "jvp", func, inputs, v, create_graph, strict, "inputs"
        )
        # J^T g is linear in g, so any finite g gives the same graph for the second backward
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        transposed = _grad(outputs, inputs, dummies, create_graph=True)
        _require_grad(transposed, "grad_inputs", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(transposed, dummies, v, create_graph=create_graph)
        products = _zeros_for_missing(grads, outputs, strict, create_graph, "back_trick")
    return _shaped(_returned(outputs, create_graph), out_tuple), _shaped(
        _returned(products, create_graph), out_tuple
    )


def jacobian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    """The Jacobian of ``func`` at ``inputs``: for each output and input, a tensor of shape
    ``output.shape + input.shape`` (nested tuples: outputs, then inputs)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function has more '
            'outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer to use '
            '"reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and `strategy="forward-mode"` are not '
                "supported together (yet). Please either set `create_graph=False` or "
                '`strategy="reverse-mode"`.'
            )
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian is only implemented for "
                "`vectorize=True`."
            )
        return _forward_jacobian(func, inputs, strict)
    with enable_grad():
        was_tuple, inputs = _tensors(inputs, "inputs", "jacobian")
        inputs = _differentiable(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _tensors(func(*inputs), "outputs of the user-provided function", "jacobian")
        _require_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not supported "
                "together. Please either set `strict=False` or `vectorize=False`."
            )
        rows = [_rows(out, i, inputs, create_graph, strict, vectorize) for i, out in enumerate(outputs)]
    return _shaped(_returned(tuple(rows), create_graph), out_tuple, was_tuple)


def _rows(out: Tensor, i: int, inputs: tuple, create_graph: bool, strict: bool, vectorize: bool) -> tuple:
    """Output ``i``'s Jacobian with respect to each input: one backward per element of
    ``out`` (``vectorize``: one batched backward over the standard basis)."""
    flat = out.reshape(-1)
    n = flat.numel()
    if vectorize:
        basis = eye(n, dtype=out.dtype)  # the standard basis of the flattened output
        grads = _grad((flat,), inputs, (basis,), create_graph=create_graph, retain_graph=True, batched=True)
        per_input = [
            zeros_like(x).expand(n, *x.shape).clone() if g is None else g for g, x in zip(grads, inputs)
        ]
    else:
        per_input = [[] for _ in inputs]
        for k in range(n):
            grads = _grad((flat[k],), inputs, create_graph=create_graph, retain_graph=True)
            for j, (g, x) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(
                            f"Output {i} of the user-provided function is independent of input {j}. This is "
                            "not allowed in strict mode."
                        )
                    g = zeros_like(x)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(
                        f"The jacobian of the user-provided function is independent of input {i}. This is not "
                        "allowed in strict mode when create_graph=True."
                    )
                per_input[j].append(g)
        per_input = [stack(column) for column in per_input]
    return tuple(column.reshape((*out.shape, *x.shape)) for column, x in zip(per_input, inputs))


def _forward_jacobian(func: Callable, inputs, strict: bool):
    """``jacobian`` by columns: one Jacobian-vector product per input element."""
    if strict:
        raise RuntimeError(
            'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are not '
            'supported together (yet). Please either set `strict=False` or `strategy="reverse-mode"`.'
        )
    was_tuple, inputs = _tensors(inputs, "inputs", "jacobian")
    columns = []  # per input: the jvp of every one of its elements, a tuple over outputs each
    out_tuple, outputs = False, ()
    for j, x in enumerate(inputs):
        per_element = []
        for k in range(x.numel()):
            v = tuple(zeros_like(y) for y in inputs)
            v[j].reshape(-1)[k] = 1
            outputs, products = jvp(func, inputs, v)
            out_tuple = isinstance(outputs, tuple)
            per_element.append(products if out_tuple else (products,))
        columns.append(per_element)
    outputs = outputs if out_tuple else (outputs,)
    if not outputs:
        _, outputs = _tensors(func(*inputs), "outputs of the user-provided function", "jacobian")
        out_tuple = isinstance(outputs, tuple)
    rows = []
    for i, out in enumerate(outputs):
        row = []
        for j, x in enumerate(inputs):
            elements = [products[i] for products in columns[j]]
            stacked = stack(elements, dim=-1) if elements else zeros_like(out).reshape((*out.shape, 0))
            row.append(stacked.reshape((*out.shape, *x.shape)))
        rows.append(tuple(row))
    return _shaped(tuple(rows), out_tuple, was_tuple)


def hessian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of scalar-valued ``func`` at ``inputs``: the Jacobian of its gradient
    (for each pair of inputs, a tensor of shape ``a.shape + b.shape``)."""
    was_tuple, inputs = _tensors(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar(*xs):
        result = func(*xs)
        out_tuple, outputs = _tensors(result, "outputs of the user-provided function", "hessian")
        _require_grad(outputs, "outputs", strict)
        _single_output("hessian", out_tuple, outputs)
        return result.squeeze()

    def gradient(*xs):
        if outer_jacobian_strategy == "forward-mode":
            xs = tuple(x.requires_grad_(True) for x in xs)
        g = jacobian(scalar, xs, create_graph=True)
        _require_grad(g, "jacobian", strict)
        return g

    result = jacobian(
        gradient,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _shaped(result, was_tuple, was_tuple)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for scalar-valued ``func``."""
    with enable_grad():
        was_tuple, inputs, v, out_tuple, outputs = _prepare(
            "vhp", func, inputs, v, create_graph, strict, "inputs"
        )
        _single_output("vhp", out_tuple, outputs)
        gradient = _grad(outputs, inputs, create_graph=True)
        _require_grad(gradient, "jacobian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(gradient, inputs, v, create_graph=create_graph)
        products = _zeros_for_missing(grads, inputs, strict, create_graph, "double_back")
    return _shaped(_returned(outputs, create_graph), out_tuple), _shaped(
        _returned(products, create_graph), was_tuple
    )


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for scalar-valued ``func`` (double-backward trick)."""
    with enable_grad():
        was_tuple, inputs, v, out_tuple, outputs = _prepare(
            "hvp", func, inputs, v, create_graph, strict, "inputs"
        )
        _single_output("hvp", out_tuple, outputs)
        gradient = _grad(outputs, inputs, create_graph=True)
        _require_grad(gradient, "jacobian", strict)
        dummies = tuple(zeros_like(x, requires_grad=True) for x in inputs)
        transposed = _grad(gradient, inputs, dummies, create_graph=True)
        _require_grad(gradient, "hessian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(transposed, dummies, v, create_graph=create_graph)
        products = _zeros_for_missing(grads, inputs, strict, create_graph, "double_back_trick")
    return _shaped(_returned(outputs, create_graph), out_tuple), _shaped(
        _returned(products, create_graph), was_tuple
    )
