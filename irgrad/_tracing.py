"""The hooks through which low layers (dispatch, Tensor, autograd) report to an active tracer.

Layers below the tracer must not import it; they only read :data:`ACTIVE`, which
:mod:`irgrad.trace` sets while it records.  With no tracer active, each hook costs
one attribute read.  A tracer records the thread that runs it (grad mode is per thread
too): ops of other threads are not recorded, and :func:`current` is None there.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading

import numpy as np

ACTIVE = None  # the irgrad.trace.Tracer recording now (in its own thread), or None
_get_ident = threading.get_ident


def current():
    """The tracer recording in this thread, or None."""
    tracer = ACTIVE
    return tracer if tracer is not None and tracer.thread == _get_ident() else None


DEBUG_NANS = os.environ.get("IRGRAD_DEBUG_NANS", "") not in ("", "0")  # see irgrad.debug_nans
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@functools.cache
def _in_package(filename: str) -> bool:
    """Whether code from ``filename`` is irgrad's own (asked for every frame of every
    traced op: the path is normalized once per file)."""
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def user_source() -> str | None:
    """``file.py:line`` of the innermost frame outside the irgrad package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _in_package(filename):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def user_stacklevel() -> int:
    """The ``stacklevel`` with which the caller's ``warnings.warn`` names the innermost
    frame outside the irgrad package, as PyTorch's warnings name the user's line."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and _in_package(frame.f_code.co_filename):
        level, frame = level + 1, frame.f_back
    return level


def check_finite(what: str, value, source: str | None = None, inputs=()) -> None:
    """Under ``debug_nans``: raise FloatingPointError if ``value`` holds a NaN or an infinity."""
    if value.dtype.kind not in "fc" or np.isfinite(value).all():
        return
    kind = "NaN" if np.isnan(value).any() else "inf"
    upstream = any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in inputs)
    cause = "from an input that already held NaN/inf" if upstream else "from finite inputs"
    raise FloatingPointError(
        f"debug_nans: {what} produced {kind} ({cause}) at {source or user_source() or '<unknown>'}"
    )


def materialize(tensor, what: str) -> None:
    """Python is about to read ``tensor``'s values (``item()``, ``bool()``, ``numpy()`` ...)."""
    tracer = current()
    if tracer is not None:
        tracer.on_materialize(tensor, what)


def layout_read(tensor) -> None:
    """Code asked something of ``tensor``'s layout beyond its contiguity: its strides, its
    address, or whether a view of it can be made (the answer may differ for another
    tensor of the same shape and contiguity)."""
    tracer = current()
    if tracer is not None:
        tracer.on_layout_read(tensor)


def inplace(target, new) -> None:
    """``target``'s storage now holds ``new``'s value (an in-place op or setitem)."""
    tracer = current()
    if tracer is not None:
        tracer.on_inplace(target, new)


def rebind(tensor, fresh) -> None:
    """``tensor``'s value is what ``fresh`` holds (a stale view re-derived from its base)."""
    tracer = current()
    if tracer is not None:
        tracer.on_rebind(tensor, fresh)


def storage_changed(tensor) -> None:
    """``tensor`` now wraps another array (``t.data = x``, a module's ``to()``)."""
    tracer = current()
    if tracer is not None:
        tracer.on_storage(tensor)


def array_read(array: np.ndarray) -> None:
    """A tensor is made from the numpy array ``array`` (a copy or a view of it)."""
    tracer = current()
    if tracer is not None:
        tracer.on_array_read(array)


def custom_backward(what: str, tensor: object | None = None) -> None:
    """Python code a later backward runs: ``register_hook``/``retain_grad`` on ``tensor``,
    a custom ``autograd.Function``'s backward (``tensor`` None)."""
    tracer = current()
    if tracer is not None:
        tracer.on_custom_backward(what, tensor)


def alias(new, old) -> None:
    """``new`` was made outside the op registry as a copy of ``old``'s current value."""
    tracer = current()
    if tracer is not None:
        tracer.on_alias(new, old)


def untraceable(what: str) -> None:
    """Library code is about to compute on tensor data outside the op registry: a graph break."""
    tracer = current()
    if tracer is not None:
        tracer.on_untraceable(what)


def lift(container, key, index=None):
    """``container[key]`` (a Python number; ``[key][index]`` of a tuple there) as a tensor
    that is a graph input, read afresh at every compiled call instead of being frozen
    into the graph (a learning rate, a momentum a scheduler cycles)."""
    return current().on_lift(container, key, index)


def test(container, key, predicate) -> bool:
    """``predicate(container[key])`` for a Python branch on a value that may be lifted: the
    capture is guarded on the answer rather than on the value (``momentum != 0``)."""
    return current().on_test(container, key, predicate)


def read_item(container, key) -> None:
    """Traced code read ``container[key]`` as a Python value (a learning rate is then guarded
    as a value rather than accepted as any number: see ``irgrad.optim.param_group``)."""
    tracer = current()
    if tracer is not None:
        tracer.on_read_item(container, key)


def read_attr(obj, name: str) -> None:
    """Traced code read ``obj.name`` (an object whose reads the tracer asked to hear of)."""
    tracer = current()
    if tracer is not None:
        tracer.on_read_attr(obj, name)


_WRITES: set | None = None  # while a deferred step runs: (id(holder), how, key) of the slots it writes


def _reported_getattribute(self, name: str):
    read_attr(self, name)
    return object.__getattribute__(self, name)


def _reported_setattr(self, name: str, value) -> None:
    wrote(self, "attr", name)
    object.__setattr__(self, name, value)


def _reported_delattr(self, name: str) -> None:
    wrote(self, "attr", name)
    object.__delattr__(self, name)


_REPORTING_HOOKS = {
    "__getattribute__": _reported_getattribute,
    "__setattr__": _reported_setattr,
    "__delattr__": _reported_delattr,
}
_reporting: dict[type, int] = {}  # class -> blocks inside attributes_reported(class)
_reporting_lock = threading.Lock()


@contextlib.contextmanager
def attributes_reported(cls: type):
    """Inside the block, instances of ``cls`` (and its subclasses) report attribute reads
    (:func:`read_attr`) and writes (:func:`wrote`).  The hooks are set on ``cls`` for the
    block only, so code outside a trace pays nothing for them, and no instance changes
    class.  Blocks may nest and overlap across threads: the hooks go when the last ends."""
    with _reporting_lock:
        if not _reporting.get(cls):
            for name, hook in _REPORTING_HOOKS.items():
                setattr(cls, name, hook)
        _reporting[cls] = _reporting.get(cls, 0) + 1
    try:
        yield
    finally:
        with _reporting_lock:
            _reporting[cls] -= 1
            if not _reporting[cls]:
                for name in _REPORTING_HOOKS:
                    delattr(cls, name)


@contextlib.contextmanager
def writes_recorded():
    """Collect the slots written inside the block (a scheduler's step the tracer defers)."""
    global _WRITES
    outer, _WRITES = _WRITES, set()
    try:
        yield _WRITES
    finally:
        _WRITES = outer


def wrote(holder, how: str, key) -> None:
    """``holder``'s slot ``(how, key)`` was written (by an object that reports its writes:
    a scheduler while traced, a ``ParamGroup``)."""
    if _WRITES is not None:
        _WRITES.add((id(holder), how, key))
        return
    tracer = current()
    if tracer is not None:
        tracer.on_write(holder, (how, key))


@contextlib.contextmanager
def suspended():
    """Nothing is recorded inside the block: code the tracer runs for itself."""
    global ACTIVE
    tracer, ACTIVE = ACTIVE, None
    try:
        yield
    finally:
        ACTIVE = tracer


def tracing() -> bool:
    """Whether a tracer is recording in this thread (library code then takes its recordable path)."""
    return current() is not None


def created(tensor) -> None:
    """A tensor was made (the tracer tells constants made during the trace from free tensors)."""
    tracer = current()
    if tracer is not None:
        tracer.on_create(tensor)
