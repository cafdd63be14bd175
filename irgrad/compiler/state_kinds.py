"""How the state walk treats an object it reaches: what kind of state it is.

An object is compared by value (:func:`is_value`: ints, strings, dtypes ...), by its
elements (``CONTENT_TYPES``: sets, ``os.environ``, byte buffers; :func:`same_contents`),
walked (irgrad's classes that carry user state, :func:`stateful_library_classes`; a
``__slots__`` class slot by slot, :func:`slot_names`) or held by identity (irgrad's own
internals, :func:`is_irgrad_class`).  Of a library's module, only what
:func:`holds_state` is compared.  The walk (:mod:`.state`), the guards (:mod:`.guards`),
the diff (:mod:`.state_changes`) and the replay of side effects (:mod:`.effects`) decide
alike through these predicates.
"""

from __future__ import annotations

import array
import collections
import collections.abc
import enum
import os
from typing import Any

import numpy as np

from ..dtypes import dtype as irgrad_dtype
from ..nn import Module
from ..optim import Optimizer
from ..optim.lr_scheduler import LRScheduler
from ..tensor import device
from ..utils.data import Dataset
from .value_equality import same_value

# Compared by their elements (in iteration order), not walked: a set's elements are
# hashable, and os.environ's are strings; subclasses are objects like any other.
# compared element by element: sets, the environment, and mutable buffers of numbers
# (a bytearray or array.array read by the function would otherwise be a frozen constant)
CONTENT_TYPES = (set, frozenset, type(os.environ), bytearray, array.array)


def contents(obj: Any) -> tuple:
    """A set's elements or a mapping's items, in iteration order."""
    return tuple(obj.items()) if isinstance(obj, collections.abc.Mapping) else tuple(obj)


def same_contents(now: Any, recorded: tuple) -> bool:
    """Whether ``now`` holds ``recorded``'s elements in the same order: values of the same
    type and value (signed zeros apart), anything else the same object."""
    items = contents(now)
    return len(items) == len(recorded) and all(map(_same_element, items, recorded))


def _same_element(now: Any, recorded: Any) -> bool:
    if type(recorded) is tuple:
        return type(now) is tuple and len(now) == len(recorded) and all(map(_same_element, now, recorded))
    return same_value(now, recorded) if is_value(recorded) else now is recorded


def holds_state(value: Any) -> bool:
    """What a library's module holds that a guard compares: values and containers (its
    functions, classes, submodules and other objects are taken to be as constant as its
    code; walking a logger or ``sys.stdout`` would recompile at each of their writes)."""
    return is_value(value) or type(value) in (dict, list, tuple, collections.deque, *CONTENT_TYPES)


def slot_names(cls: type) -> list[str]:
    """The attribute names of the ``__slots__`` of ``cls`` and its bases (a string is one
    slot; a private ``__name`` is stored mangled, as ``_Class__name``)."""
    names = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            if name not in names:
                names.append(name)
    return names


def is_irgrad_class(cls: type) -> bool:
    """irgrad's own internals (a compiled function, a graph...) are compared by identity."""
    return (getattr(cls, "__module__", "") or "").split(".")[0] == "irgrad"


def stateful_library_classes() -> tuple[type, ...]:
    """irgrad classes whose instances carry user state a compiled function may read
    (a ``TensorDataset``'s tensors, indexed inside a step)."""
    return (Module, Optimizer, LRScheduler, Dataset)


_VALUE_TYPES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    slice,
    range,
    irgrad_dtype,
    device,
    np.dtype,
)


def is_value(obj: Any) -> bool:
    """Immutable values compared by equality (the rest is compared by identity)."""
    return (
        isinstance(obj, _VALUE_TYPES)
        or isinstance(obj, (enum.Enum, np.generic))
        or obj is Ellipsis
        or obj is NotImplemented
        or (isinstance(obj, frozenset) and all(is_value(x) for x in obj))
    )
