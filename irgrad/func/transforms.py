"""``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd`` and ``hessian``:
PyTorch's function transforms (``torch.func``), on irgrad's autograd.

Each transform runs the function on differentiable stand-ins of the chosen arguments
(a new leaf for a tensor that does not require grad; for one that does, a view of it, so
that an outer transform or ordinary autograd can differentiate the result), records
with ``create_graph`` so that transforms nest (``grad(grad(f))``), and returns results
that stay connected to whatever else requires grad (closed-over parameters, the inputs
of an outer transform) and are detached otherwise, as PyTorch's are.  Arguments may be
nested containers of tensors (a dict of parameters, as ``functional_call`` takes);
results have the same structure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd.engine import grad as autograd_grad
from ..creation import zeros_like
from ..recording.grad_mode import enable_grad
from ..tensor import Tensor
from ..tensor_ops.split_join import stack
from ..utils.pytree import flatten, unflatten

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


class _Stand:
    """Differentiable stand-ins for some arguments: the leaves made here are the
    transform's own, which results are detached from when nothing else feeds them."""

    def __init__(self) -> None:
        self.own: set[int] = set()

    def of(self, tree: Any) -> tuple[Any, list[Tensor]]:
        """``tree`` with every tensor replaced by its stand-in, and the stand-ins in order."""
        leaves, spec = flatten(tree, _is_tensor)
        stand = []
        for x in leaves:
            if x.requires_grad:
                s = x.view_as(x)
            else:
                s = x.detach().requires_grad_()
                self.own.add(id(s))
            stand.append(s)
        return unflatten(spec, stand), stand

    def released(self, tree: Any) -> Any:
        """``tree`` with each tensor detached unless it depends on something that requires
        grad other than this transform's own leaves."""
        leaves, spec = flatten(tree, _is_tensor)
        return unflatten(spec, [t if self._reaches_outside(t) else t.detach() for t in leaves])

    def _reaches_outside(self, t: Tensor) -> bool:
        if not t.requires_grad:
            return False
        if t._node is None:
            return id(t) not in self.own
        seen, stack_ = set(), [t._node]
        while stack_:
            node = stack_.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for edge in node.edges:
                if type(edge) is tuple:
                    stack_.append(edge[0])
                elif isinstance(edge, Tensor) and id(edge) not in self.own and edge.requires_grad:
                    return True
        return False


def _argnums_tuple(argnums, n_args: int, fn: str) -> tuple[int, ...]:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if not nums:
        raise RuntimeError(f"{fn}: argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"{fn}: argnums must be int or Tuple[int, ...], got: {type(argnums)}")
        if not -n_args <= a < n_args:
            raise RuntimeError(
                f"Got argnums={a}, but only {n_args} positional inputs. Please pass an argnums in range "
                f"[{-n_args}, {n_args})"
            )
    return tuple(a % n_args for a in nums)


def _split_aux(out: Any, has_aux: bool, fn: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(
            f"{fn}(f)(*args): output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return out


def _gradients(outputs: list[Tensor], inputs: list[Tensor], cotangents=None) -> list[Tensor]:
    """Gradients of ``outputs`` (weighted by ``cotangents``) w.r.t. ``inputs``, zeros for
    an input they do not depend on, recorded for an outer transform."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents or [None] * len(outputs)) if o.requires_grad]
    if not pairs:
        return [zeros_like(x) for x in inputs]
    grads = autograd_grad(
        [o for o, _ in pairs],
        inputs,
        [c for _, c in pairs],
        retain_graph=True,
        create_graph=True,
        allow_unused=True,
    )
    return [zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning ``(gradient of func w.r.t. the argnums arguments, func's value)``
    (``((gradient, (value, aux))`` with ``has_aux``); ``func`` returns a scalar tensor."""

    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "grad_and_value(f)(*args)")
        stand = _Stand()
        with enable_grad():
            args = list(args)
            chosen = []
            for a in nums:
                args[a], leaves = stand.of(args[a])
                chosen.append(leaves)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value")
            if not isinstance(output, Tensor):
                raise RuntimeError(
                    f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}"
                )
            if output.dim() != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            flat = _gradients([output], [x for leaves in chosen for x in leaves])
        grads, at = [], 0
        for a, leaves in zip(nums, chosen):
            _, spec = flatten(args[a], _is_tensor)
            grads.append(unflatten(spec, flat[at : at + len(leaves)]))
            at += len(leaves)
        grads = stand.released(grads[0] if not isinstance(argnums, tuple) else tuple(grads))
        value = stand.released(output)
        return (grads, (value, stand.released(aux))) if has_aux else (grads, value)

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of scalar-valued ``func`` w.r.t. its ``argnums``
    arguments (and ``func``'s aux with ``has_aux``)."""
    with_value = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        grads, value = with_value(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives the vector-Jacobian
    product with each primal, a tuple."""
    stand = _Stand()
    with enable_grad():
        args, leaves = zip(*(stand.of(p) for p in primals)) if primals else ((), ())
        output, aux = _split_aux(func(*args), has_aux, "vjp")
    out_leaves, out_spec = flatten(output, _is_tensor)

    def vjp_fn(*cotangents):
        ct = cotangents[0] if len(cotangents) == 1 else cotangents
        ct_leaves, ct_spec = flatten(ct, _is_tensor)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of outputs to "
                f"the function. cotangents: {ct_spec}, primal output: {out_spec}"
            )
        with enable_grad():
            flat = _gradients(out_leaves, [x for ls in leaves for x in ls], ct_leaves)
        result, at = [], 0
        for p, ls in zip(args, leaves):
            _, spec = flatten(p, _is_tensor)
            result.append(unflatten(spec, flat[at : at + len(ls)]))
            at += len(ls)
        return stand.released(tuple(result))

    released = stand.released(output)
    return (released, vjp_fn, stand.released(aux)) if has_aux else (released, vjp_fn)


def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J tangents)`` by the double-backward trick: ``J t`` is the
    gradient, with respect to a dummy cotangent ``g``, of ``<J^T g, t>``."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    if len(primals) != len(tangents):
        raise RuntimeError(
            "jvp(f, primals, tangents): Expected primals and tangents to have the same python structure"
        )
    stand = _Stand()
    with enable_grad():
        args, leaves = zip(*(stand.of(p) for p in primals)) if primals else ((), ())
        output, aux = _split_aux(func(*args), has_aux, "jvp")
        out_leaves, out_spec = flatten(output, _is_tensor)
        dummies = [zeros_like(o).requires_grad_() for o in out_leaves]
        for d in dummies:
            stand.own.add(id(d))
        flat_in = [x for ls in leaves for x in ls]
        transposed = _gradients(out_leaves, flat_in, dummies)
        t_leaves = [t for tan in tangents for t in flatten(tan, _is_tensor)[0]]
        products = _gradients(transposed, dummies, t_leaves)
    result = stand.released(unflatten(out_spec, products))
    released = stand.released(output)
    return (released, result, stand.released(aux)) if has_aux else (released, result)


def jacrev(func: Callable, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None) -> Callable:
    """A function returning the Jacobian of ``func`` w.r.t. its ``argnums`` arguments,
    one vector-Jacobian product per output element: for each output, a tensor of shape
    ``output.shape + argument.shape`` (a tuple over ``argnums`` when it is a tuple)."""
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        stand = _Stand()
        with enable_grad():
            args = list(args)
            chosen = []
            for a in nums:
                args[a], leaves = stand.of(args[a])
                chosen.append(leaves)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "jacrev")
            out_leaves, out_spec = flatten(output, _is_tensor)
            inputs = [x for leaves in chosen for x in leaves]
            per_output = [_jacobian_rows(o, inputs) for o in out_leaves]
        results = []
        for rows in per_output:
            grouped, at = [], 0
            for a, leaves in zip(nums, chosen):
                _, spec = flatten(args[a], _is_tensor)
                grouped.append(unflatten(spec, rows[at : at + len(leaves)]))
                at += len(leaves)
            results.append(tuple(grouped) if isinstance(argnums, tuple) else grouped[0])
        jac = stand.released(unflatten(out_spec, results))
        return (jac, stand.released(aux)) if has_aux else jac

    return wrapper


def _jacobian_rows(out: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    """``out``'s Jacobian w.r.t. each input, shaped ``out.shape + input.shape``."""
    flat = out.reshape(-1)
    columns: list[list[Tensor]] = [[] for _ in inputs]
    for k in range(flat.numel()):
        for column, g in zip(columns, _gradients([flat[k]], inputs)):
            column.append(g)
    return [
        (stack(column) if column else zeros_like(x).reshape((0, *x.shape))).reshape((*out.shape, *x.shape))
        for column, x in zip(columns, inputs)
    ]


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """``func``'s Jacobian, as :func:`jacrev` gives it (irgrad has no forward-mode AD; the
    values are the same)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable, argnums=0) -> Callable:
    """The Hessian of scalar-valued ``func``: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)
