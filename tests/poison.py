"""A tracer that poisons raw data access, to find library code the tracer cannot see.

While :func:`poisoned_capture` traces a call, the numpy array of every tensor whose
value depends on the call's inputs (arguments and free tensors, and everything
computed from them) is a :class:`Poisoned` view.  Op kernels run by dispatch, the
in-place write mechanism and the tracer's own bookkeeping may read it; anything else
that computes with it (a ufunc, a numpy function, ``copy``, ``astype``, indexing,
``float()``...) raises :class:`PoisonError` naming what it did.  Library code that
computes on a traced tensor's data outside the op registry would make the tracer
record a constant: this finds it.  Reading values through the tracer's
materialization points (``item()``, ``bool()``, ``numpy()``) is a graph break, not
poison.  Functions that only read metadata (``np.ones_like``, ``np.shape``) are allowed.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

import irgrad
from irgrad.ir import USER
from irgrad.tensor import Tensor
from irgrad.trace import Tracer

_ALLOWED = [0]  # > 0 while the tracer itself, or the eager rest after a graph break, runs
_PACKAGE = os.path.dirname(irgrad.__file__) + os.sep
_NUMPY = os.path.dirname(np.__file__) + os.sep
# Where reading a traced tensor's data is legitimate: op kernels (and the native code and
# helpers they call), the in-place write mechanism, and the tracer.
_KERNEL_DIRS = tuple(_PACKAGE + d + os.sep for d in ("ops", "native", "llvm", "codegen"))
_MECHANISMS = {
    (_PACKAGE + "dispatch.py", "apply"),  # calls kernels that are numpy ufuncs themselves
    (_PACKAGE + "tensor_ops" + os.sep + "writes.py", "_write"),
    (_PACKAGE + "tensor_ops" + os.sep + "writes.py", "_writable_alias"),
    (_PACKAGE + "tensor_ops" + os.sep + "writes.py", "_snapshot"),  # a copy the tracer is told about
    (_PACKAGE + "trace.py", None),
}


def _in_kernel() -> bool:
    """Whether the innermost frame outside numpy (and this file) is a legitimate reader."""
    frame = sys._getframe(2)
    while frame is not None and (
        frame.f_code.co_filename.startswith(_NUMPY) or frame.f_code.co_filename == __file__
    ):
        frame = frame.f_back
    if frame is None:
        return False
    filename = frame.f_code.co_filename
    return (
        filename.startswith(_KERNEL_DIRS)
        or (filename, frame.f_code.co_name) in _MECHANISMS
        or (filename, None) in _MECHANISMS
    )


_METADATA_ONLY = {
    np.ones_like,
    np.zeros_like,
    np.empty_like,
    np.full_like,
    np.shape,
    np.ndim,
    np.size,
    np.result_type,
    np.may_share_memory,
    np.shares_memory,
    np.broadcast_shapes,
}


class PoisonError(AssertionError):
    """Library code computed on a traced tensor's data outside the op registry."""


@contextlib.contextmanager
def allowed():
    _ALLOWED[0] += 1
    try:
        yield
    finally:
        _ALLOWED[0] -= 1


def _plain(x):
    if isinstance(x, Poisoned):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _guarded(name: str):
    def method(self, *args, **kwargs):
        if not _ALLOWED[0] and not _in_kernel():
            raise PoisonError(f"ndarray.{name} on a traced tensor's data")
        return getattr(self.view(np.ndarray), name)(*_plain(args), **kwargs)

    method.__name__ = name
    return method


class Poisoned(np.ndarray):
    """A view whose values may only be read by op kernels (see the module doc)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not _ALLOWED[0] and not _in_kernel():
            raise PoisonError(f"numpy ufunc {ufunc.__name__}.{method} on a traced tensor's data")
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if not _ALLOWED[0] and func not in _METADATA_ONLY and not _in_kernel():
            raise PoisonError(f"numpy.{func.__name__} on a traced tensor's data")
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})

    for _name in (
        "copy",
        "astype",
        "item",
        "tolist",
        "tobytes",
        "__getitem__",
        "__setitem__",
        "__iter__",
        "__bool__",
        "__float__",
        "__int__",
        "__index__",
        "fill",
        "sort",
        "argsort",
        "nonzero",
    ):
        locals()[_name] = _guarded(_name)
    del _name


class PoisoningTracer(Tracer):
    """A tracer that poisons the data of every value depending on the inputs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.restore: list = []

    def _poison(self, t: Tensor, nid: int) -> None:
        if nid in self.dependent and not isinstance(t._data, Poisoned):
            self.restore.append((t, t._data))
            t._data = t._data.view(Poisoned)

    def bind(self, t, name, role=USER, source=None):
        nid = super().bind(t, name, role, source)
        self._poison(t, nid)
        return nid

    def record(self, op, inputs, attrs, out) -> None:
        super().record(op, inputs, attrs, out)
        nid = self.values.get(id(out))
        if nid is not None:
            self._poison(out, nid)

    def on_materialize(self, t, what) -> None:
        super().on_materialize(t, what)
        _ALLOWED[0] += 1  # the graph is broken now: the eager rest may read anything

    def unpoison(self) -> None:
        for t, data in reversed(self.restore):
            if isinstance(t._data, Poisoned):
                t._data = data


@contextlib.contextmanager
def poisoning(monkeypatch):
    """Install the poisoning tracer for one test; yields the tracers it made."""
    import irgrad.compiler.capture as capture_module

    made: list = []

    def make(*args, **kwargs):
        tracer = PoisoningTracer(*args, **kwargs)
        made.append(tracer)
        return tracer

    monkeypatch.setattr(capture_module, "Tracer", make)
    _ALLOWED[0] = 0
    try:
        yield made
    finally:
        for tracer in made:
            tracer.unpoison()
        _ALLOWED[0] = 0


def poisoned_capture(monkeypatch, fn, *args, **kwargs):
    """Capture one call of ``fn`` with raw data access poisoned; returns the Capture."""
    from irgrad.compiler.capture import capture

    with poisoning(monkeypatch):
        return capture(fn, args, kwargs, name="poisoned")
