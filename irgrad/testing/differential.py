"""Run a program eagerly and through ``irgrad.compile``, call after call, and compare.

:func:`check_compiled` is for a function of tensors (each call gets fresh tensors
made from the given arrays); :func:`check_stateful` is for a program with state
outside its arguments, given as source text that is executed twice, so the eager
and the compiled run each start from identical fresh state.

Both raise on the first difference:

- :class:`Mismatch` (from ``compare``): a value, shape, dtype, ``requires_grad`` or
  gradient differs; its ``aspect`` names what;
- :class:`CompiledError`: the compiled run raised where eager did not;
- :class:`MissingError`: eager raised and the compiled run did not;
- :class:`EagerError`: both raised, so the program is not valid for these inputs
  (a generator of random programs skips those).
"""

from __future__ import annotations

import inspect
import itertools
import linecache
from collections.abc import Callable, Sequence

import numpy as np

import irgrad
from irgrad import Tensor

from .compare import Mismatch, assert_same


class _CallError(Exception):
    """An exception raised by one side at call ``call`` in ``phase``."""

    def __init__(self, call: int, phase: str, error: BaseException) -> None:
        super().__init__(f"call {call} ({phase}): {type(error).__name__}: {error}")
        self.call = call
        self.phase = phase
        self.error = error


class EagerError(_CallError):
    """Eager execution raised (and so did the compiled run): the program is invalid here."""


class CompiledError(_CallError, AssertionError):
    """The compiled run raised where eager execution did not."""


class MissingError(_CallError, AssertionError):
    """Eager execution raised and the compiled run returned a result."""


def check_compiled(
    fn: Callable,
    calls: Sequence[Sequence[np.ndarray]],
    *,
    backend: str = "numpy",
    train: bool = False,
    dynamic: bool = False,
    mark_dynamic: Sequence[int] = (),
    seed: int = 0,
):
    """Call ``fn`` eagerly and ``irgrad.compile(fn, backend=..., dynamic=...)`` on each call's arrays.

    Each call gets fresh tensors made from the arrays (so in-place writes do not leak
    between the sides); with ``train`` the floating ones require grad, grad mode is on,
    and after comparing the outputs both sides run ``backward`` of the same random
    weighted sum of their floating outputs that require grad, and every argument's
    ``.grad`` is compared.  ``mark_dynamic`` lists argument positions whose dim 0 is
    marked with ``irgrad.mark_dynamic`` (on the compiled side).  The RNG is seeded with
    ``seed + call`` before each side's call.  Arguments are compared after each call too
    (in-place writes on arguments are part of the result).  Returns the compiled function.
    """
    compiled = irgrad.compile(fn, backend=backend, dynamic=dynamic)
    names = _argument_names(fn, len(calls[0]) if calls else 0)
    for k, arrays in enumerate(calls):
        eager_args = arguments(arrays, train)
        compiled_args = arguments(arrays, train, mark_dynamic)
        with irgrad.set_grad_enabled(train):
            expected, got = _both(k, "forward", (fn, eager_args), (compiled, compiled_args), seed + k)
        _compare(got, expected, f"call {k}: output", "")
        for name, g, e in zip(names, compiled_args, eager_args):
            _compare(g.detach(), e.detach(), f"call {k}: argument {name} after the call", "argument ", False)
        if not train:
            continue
        weights = _loss_weights(expected, seed + k)
        if weights:
            _both(k, "backward", (_backward, (expected, weights)), (_backward, (got, weights)), None)
        for name, g, e in zip(names, compiled_args, eager_args):
            _compare_grad(g.grad, e.grad, f"call {k}: grad of {name}")
    return compiled


def check_stateful(
    source: str,
    calls: Sequence[Sequence[np.ndarray]],
    *,
    data: dict | None = None,
    backend: str = "numpy",
    seed: int = 0,
):
    """Run a stateful program eagerly and compiled from identical fresh state, and compare.

    ``source`` is executed twice, each time in a fresh namespace holding ``DATA`` (a
    copy of ``data``).  It must define ``f`` (the function to compile) and
    ``observe()`` (a dict of everything the program can change: free tensors read
    through their current path, parameters, gradients, optimizer state); it may define
    ``after(out)`` (run after each call with its output, e.g. a backward and an optimizer
    step outside the compiled function) and ``between(k)`` (run after call ``k`` on
    both sides: free tensors changed in place or rebound, Python globals changed).
    After each call the outputs and ``observe()`` are compared.  Returns the compiled function.
    """
    eager_ns = _load(source, data or {}, "eager")
    compiled_ns = _load(source, data or {}, "compiled")
    compiled = irgrad.compile(compiled_ns["f"], backend=backend)
    for k, arrays in enumerate(calls):
        eager_args = arguments(arrays)
        compiled_args = arguments(arrays)
        expected, got = _both(k, "forward", (eager_ns["f"], eager_args), (compiled, compiled_args), seed + k)
        _compare(got, expected, f"call {k}: output", "")
        if "after" in eager_ns:
            _both(k, "after", (eager_ns["after"], (expected,)), (compiled_ns["after"], (got,)), seed + k)
        _compare(compiled_ns["observe"](), eager_ns["observe"](), f"call {k}: state after the call", "state ")
        if "between" in eager_ns:
            eager_ns["between"](k)
            compiled_ns["between"](k)
    return compiled


def _both(k: int, phase: str, eager: tuple, compiled: tuple, seed: int | None) -> tuple:
    """Call ``eager = (function, arguments)`` then ``compiled``, classifying exceptions."""
    if seed is not None:
        irgrad.manual_seed(seed)
    try:
        expected = eager[0](*eager[1])
    except Exception as eager_error:
        if seed is not None:
            irgrad.manual_seed(seed)
        try:
            compiled[0](*compiled[1])
        except Exception:
            raise EagerError(k, phase, eager_error) from eager_error
        raise MissingError(k, phase, eager_error) from eager_error
    if seed is not None:
        irgrad.manual_seed(seed)
    try:
        got = compiled[0](*compiled[1])
    except Exception as error:
        raise CompiledError(k, phase, error) from error
    return expected, got


def _backward(outputs, weights: list) -> None:
    _weighted_sum(outputs, weights).backward()


def _compare(got, expected, path: str, prefix: str, requires_grad: bool = True) -> None:
    try:
        assert_same(got, expected, path, requires_grad)
    except Mismatch as m:
        if not prefix:
            raise
        raise Mismatch(prefix + m.aspect, m.path, m.detail) from None


def _compare_grad(got, expected, path: str) -> None:
    if (got is None) != (expected is None):
        raise Mismatch("grad presence", path, f"{_presence(got)} against {_presence(expected)}")
    if expected is not None:
        _compare(got, expected, path, "grad ", requires_grad=False)


def _presence(grad) -> str:
    return "None" if grad is None else f"a tensor {list(grad.shape)}"


def arguments(
    arrays: Sequence[np.ndarray], requires_grad: bool = False, dynamic: Sequence[int] = (), lib=irgrad
) -> list:
    """Fresh tensors of ``lib`` (irgrad, or PyTorch for a third opinion) from copies of ``arrays``.

    With ``requires_grad`` the floating ones are leaves that require grad; dim 0 of the
    tensors at positions ``dynamic`` is marked with ``irgrad.mark_dynamic``.
    """
    tensors = []
    for pos, array in enumerate(arrays):
        t = lib.from_numpy(np.array(array, copy=True))
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        if pos in dynamic and t.ndim:
            irgrad.mark_dynamic(t, 0)
        tensors.append(t)
    return tensors


def _argument_names(fn: Callable, n: int) -> list[str]:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    return names[:n] + [f"argument {i}" for i in range(len(names), n)]


def tensor_leaves(value) -> list[Tensor]:
    """The tensors in a nest of tuples, lists and dicts, in order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return list(itertools.chain.from_iterable(tensor_leaves(v) for v in value))
    return []


def _loss_weights(outputs, seed: int) -> list[np.ndarray | None]:
    """A random weight array per output tensor that takes part in the loss (None: it does not)."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal(t.shape) if t.is_floating_point() and t.requires_grad else None
        for t in tensor_leaves(outputs)
    ]
    return weights if any(w is not None for w in weights) else []


def _weighted_sum(outputs, weights: list) -> Tensor:
    total = None
    for t, w in zip(tensor_leaves(outputs), weights):
        if w is not None:
            term = (t * irgrad.from_numpy(w).to(t.dtype)).sum()
            total = term if total is None else total + term
    return total


def _load(source: str, data: dict, side: str) -> dict:
    """Execute program source in a fresh namespace; its lines show in tracebacks and reports."""
    filename = f"<fuzz program ({side}) {abs(hash(source)):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "fuzz_program", "DATA": {k: np.array(v, copy=True) for k, v in data.items()}}
    exec(compile(source, filename, "exec"), namespace)
    return namespace
