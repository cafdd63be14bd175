"""``irgrad.compile``: trace, optimize and run a function or module as a graph.

A compiled function is observably the same function as the eager one, call after
call.  The first call with a new state *captures* it (:mod:`irgrad.compiler.capture`):
it runs eagerly under the tracer and records the graph, every tensor it read but did
not create (parameters, closures, globals, optimizer state, ``.grad``: graph inputs
fetched afresh at every call along their sources), what it wrote in place and what it
rebound.  Where running the graph once more changes nothing but the result (no side
effects, no random draws), the first call then returns the compiled program's result,
as later calls do; otherwise the traced call's own.  A *guard* generated from the state the
call saw (:mod:`irgrad.compiler.guards`) decides whether a later call may reuse the
graph; on a miss the call is captured again (a recompile, logged with its reason).

Training: when grad mode is on and a returned value required grad, the graph is
differentiated (the IR autodiff pass) and partitioned into a forward graph and a
backward graph; the returned tensors carry a ``grad_fn`` running the backward graph,
so ``loss.backward()`` fills ``.grad`` exactly as eager autograd does.  A function
that calls ``backward()`` and ``optimizer.step()`` itself is captured whole: the
autograd engine and the optimizer run through recorded ops, and the new gradients,
parameters and optimizer state are written back or rebound after each call.

Graph breaks (Python reading a traced value, or a side effect no graph can redo) make
that call signature run eagerly, with the cause and the source line kept for
``explain()`` and reported once as a :class:`~irgrad.compiler.CompileWarning`;
``fullgraph=True`` makes them errors instead.  After ``RECOMPILE_LIMIT`` graphs a
function that keeps changing runs eagerly, as in PyTorch.
"""

from __future__ import annotations

import functools

from .compiler.backends import BACKENDS
from .compiler.compiled import RECOMPILE_LIMIT, Compiled
from .compiler.dynamic import mark_dynamic
from .compiler.explain import Explanation
from .nn import Module

CACHE_LIMIT = RECOMPILE_LIMIT  # kept for code that read the old name


class CompiledModule:
    """``irgrad.compile(module)``: behaves like the module, runs its calls compiled.

    Attribute access, ``parameters()``, ``state_dict()`` and the rest go to the original
    module, so parameters are the same objects; methods that return the module
    (``train()``, ``eval()``, ``to()``, ``float()``, ``requires_grad_()``...) return this
    wrapper, so compilation is never silently dropped.
    """

    def __init__(self, module, compiled: Compiled) -> None:
        object.__setattr__(self, "_orig_mod", module)
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    forward = __call__

    def explain(self) -> Explanation:
        return self._compiled.explain()

    def __reduce__(self) -> tuple:
        # copy.deepcopy gives a compiled copy of a copy of the module (compiling afresh)
        return CompiledModule, (self._orig_mod, self._compiled)

    def __getattr__(self, name: str):
        if name in ("_orig_mod", "_compiled"):  # not set yet: an instance being unpickled
            raise AttributeError(name)
        value = getattr(self._orig_mod, name)
        if callable(value) and getattr(value, "__self__", None) is self._orig_mod:
            return _returning_wrapper(self, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        setattr(self._orig_mod, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._orig_mod, name)

    def __repr__(self) -> str:
        return f"CompiledModule({self._orig_mod!r})"

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._orig_mod)) | {"explain", "_orig_mod"})


def _returning_wrapper(wrapper: CompiledModule, method):
    """``method`` of the wrapped module, returning the wrapper where it returned the module."""

    @functools.wraps(method)
    def call(*args, **kwargs):
        out = method(*args, **kwargs)
        return wrapper if out is wrapper._orig_mod else out

    return call


def compile(
    model=None,
    *,
    backend: str = "llvm",
    dynamic: bool | None = None,
    fullgraph: bool = False,
    dump: str | None = None,
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
    check: bool = False,
):
    """Compile a module or function (also usable as ``@irgrad.compile`` or ``@irgrad.compile(...)``).

    ``options={"verify": True}`` (or ``IRGRAD_VERIFY=1``) runs the IR verifier after every
    pass.  ``check=True`` runs eager execution beside every compiled call and raises
    :class:`~irgrad.compiler.check.CompileCheckError` on a difference, naming the first
    differing graph node and its source line.  ``disable=True`` returns the function
    unchanged (PyTorch's switch).  ``mode``
    and the other ``options`` are accepted for ``torch.compile`` compatibility and ignored.

    Returns a callable with the original's behaviour: same outputs, same gradients, same
    side effects, same parameter objects.  See the module docstring.
    """
    if model is None:
        return functools.partial(
            compile,
            backend=backend,
            dynamic=dynamic,
            fullgraph=fullgraph,
            dump=dump,
            mode=mode,
            options=options,
            disable=disable,
            check=check,
        )
    if disable:
        return model

    verify = bool((options or {}).get("verify", False))
    if isinstance(model, CompiledModule):
        model = model._orig_mod
    if isinstance(model, Module):
        compiled = Compiled(
            model._call_impl, model, backend, dynamic, fullgraph, dump, verify, type(model).__name__, check
        )
        return CompiledModule(model, compiled)
    compiled = Compiled(model, model, backend, dynamic, fullgraph, dump, verify, check=check)

    @functools.wraps(model)
    def wrapper(*args, **kwargs):
        return compiled(*args, **kwargs)

    wrapper.explain = compiled.explain
    wrapper._compiled = compiled
    return wrapper


def _compile_module(self: Module, *args, **kwargs) -> None:
    """Compile this module's calls in place (``irgrad.compile``'s arguments), as PyTorch 2.2+."""
    object.__setattr__(self, "_compiled_call", compile(self, *args, **kwargs)._compiled)


Module.compile = _compile_module

__all__ = ["BACKENDS", "compile", "mark_dynamic", "CompiledModule", "RECOMPILE_LIMIT"]
