"""``Tensor``: a numpy array plus autograd metadata.

The array (``_data``) is the storage: views share it as PyTorch views share
storage, and ``from_numpy``/``numpy()`` never copy.  Autograd metadata is the
``requires_grad`` flag, the producing node (``grad_fn``) and the version counter,
shared between a tensor and its views and bumped by every in-place op.

Op methods (``exp``, ``sum``, ``view`` ...) and ``backward`` are attached from
:mod:`irgrad.tensor_methods`, so each op has one implementation serving both
``irgrad.exp(t)`` and ``t.exp()``, and this module needs none of the layers above it.
"""

from __future__ import annotations

import sys
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _tracing, dtypes
from .dtypes import from_numpy_dtype
from .memory_formats import (
    check_memory_format,
    contiguous_format,
    is_contiguous_as,
    memory_format,
    preserve_format,
)
from .ops.shapes import normalize_dim
from .tensor_repr import tensor_repr


class Size(tuple):
    """A tensor's shape, printed as ``irgrad.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"irgrad.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class device:
    """irgrad runs on the CPU only; ``device('cpu')`` exists so PyTorch code runs."""

    __slots__ = ("type", "index")

    def __init__(self, type: str = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        kind = str(type).split(":")[0]
        if kind != "cpu":
            raise RuntimeError(f"irgrad supports only the cpu device, got {type!r}")
        self.type = "cpu"
        self.index = index

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")


CPU = device("cpu")


def to_target(args: tuple, dtype=None, device_arg=None):
    """The dtype a ``.to(...)`` call asks for (None if none), checking any device it names.

    ``to(dtype)``, ``to(device)``, ``to(other_tensor)`` and their keyword forms, as
    ``Tensor.to`` and ``Module.to`` both accept them.
    """
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            device_arg = a
        elif a is not None:
            dtype = a
    if device_arg is not None:
        device(device_arg)
    return None if dtype is None else dtypes.to_dtype(dtype)


# What numpy() and numpy's conversions say of a tensor that requires grad (PyTorch's words).
NUMPY_OF_REQUIRES_GRAD = (
    "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
)


class Tensor:
    """A multi-dimensional array with autograd, as ``torch.Tensor``."""

    __slots__ = (
        "_data",
        "_rg",
        "_node",
        "_out_nr",
        "_grad",
        "_vc",
        "_base",
        "_view",
        "_hooks",
        "_retains_grad",
        "__weakref__",
        "__dict__",
    )
    __array_priority__ = 1000

    def __init__(self, *args: Any) -> None:
        # The legacy constructor: Tensor(data) or Tensor(*sizes), always the default float.
        if len(args) == 1 and not isinstance(args[0], int):
            if isinstance(args[0], np.ndarray):
                _tracing.array_read(args[0])
            data = np.array(_unwrap_nested(args[0]), dtype=dtypes.get_default_dtype().np)
        else:
            sizes = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            data = np.zeros(tuple(sizes), dtype=dtypes.get_default_dtype().np)
        _init(self, data)

    # --- construction used by the library (no checks, no copies) ----------------------
    @classmethod
    def _wrap(cls, data: np.ndarray, node=None, out_nr: int = 0, requires_grad: bool = False):
        t = object.__new__(cls)
        t._data = data
        t._node = node
        t._out_nr = out_nr
        t._rg = requires_grad or node is not None
        t._grad = None
        t._vc = None
        t._base = None
        t._view = None
        t._hooks = None
        t._retains_grad = False
        if _tracing.ACTIVE is not None:
            _tracing.created(t)
        return t

    # --- metadata ---------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[normalize_dim("size", dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> dtypes.dtype:
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    is_xpu = is_mps = is_cuda  # irgrad runs on the CPU only

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format: memory_format = contiguous_format) -> bool:
        """Whether the elements sit in memory in ``memory_format``'s order without gaps
        (C order by default; see :mod:`irgrad.memory_formats`)."""
        if _tracing.ACTIVE is not None:
            _tracing.layout_read(self)
        if memory_format is contiguous_format or memory_format is preserve_format:
            return bool(self._data.flags.c_contiguous)
        check_memory_format("is_contiguous", memory_format)
        itemsize = self._data.itemsize
        return is_contiguous_as(self._data.shape, [s // itemsize for s in self._data.strides], memory_format)

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        if _tracing.ACTIVE is not None:
            _tracing.layout_read(self)
        if self._data.size or any(self._data.strides):
            strides = tuple(s // self._data.itemsize for s in self._data.strides)
        else:  # numpy gives a new empty array zero strides; PyTorch's are a contiguous tensor's
            strides = tuple(
                int(np.prod([max(n, 1) for n in self._data.shape[k + 1 :]])) for k in range(self._data.ndim)
            )
        return strides if dim is None else strides[dim]

    def data_ptr(self) -> int:
        if _tracing.ACTIVE is not None:
            _tracing.layout_read(self)
        return self._data.__array_interface__["data"][0]

    def get_device(self) -> int:
        return -1

    # --- autograd metadata --------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        refresh_view(self)  # a view re-derives its history if its storage was written
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self._node is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        refresh_view(self)  # a view re-derives its history if its storage was written
        return self._node

    @property
    def is_leaf(self) -> bool:
        refresh_view(self)  # a view re-derives its history if its storage was written
        return self._node is None

    @property
    def grad(self) -> Tensor | None:
        if self._grad is None and self._node is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got {type(value).__name__}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {list(value.shape)} vs "
                    f"tensor {list(self.shape)}"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: {value.dtype} vs tensor {self.dtype}"
                )
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The same storage without autograd history (and with its own version counter)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._set_data(value._data)

    def _set_data(self, array: np.ndarray) -> None:
        """Make ``array`` this tensor's storage, telling a tracer, which indexes tensors by
        the memory they wrap (see ``irgrad.trace.storage``).  Every change of a tensor's
        array after it is made goes through here."""
        if array is self._data:
            return  # ``p.data += x``: written in place, then the same array set back
        self._data = array
        if _tracing.ACTIVE is not None:
            _tracing.storage_changed(self)

    @property
    def _version(self) -> int:
        """How many in-place writes this storage has seen (shared with views), as torch's."""
        return self._vc[0] if self._vc is not None else 0

    def _bump_version(self) -> None:
        """Mark an in-place write (shared with every view of the same storage)."""
        if self._vc is None:
            self._vc = [0]
        self._vc[0] += 1

    def detach_(self) -> Tensor:
        if self._base is not None and self._base._rg:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._node = None
        self._rg = False
        return self

    def _memory_held_elsewhere(self, holders: int = 1) -> bool:
        """Whether tensors besides ``holders`` of them (this one counted) hold this
        tensor's version counter: its views and its ``detach()``/``.data`` aliases, which
        keep arrays of its memory."""
        return self._vc is not None and sys.getrefcount(self._vc) > holders + 1  # (+1: the call's argument)

    def _shared_version(self) -> list:
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def retain_grad(self) -> None:
        """Populate ``.grad`` of this non-leaf tensor during backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is None or self._retains_grad:
            return
        _tracing.custom_backward("retain_grad()", self)
        self._retains_grad = True
        node = self._node
        if node.retained is None:
            node.retained = {}
        node.retained[self._out_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        _tracing.custom_backward("register_hook()", self)
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._node
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(self._out_nr, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]):
        """Call ``hook(self)`` after backward() has accumulated this leaf's gradient into
        ``.grad`` (as soon as the gradient is final, while the backward still runs)."""
        if self._node is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    # --- conversion -------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._rg and not force:
            raise RuntimeError(NUMPY_OF_REQUIRES_GRAD)
        _tracing.materialize(self, "numpy()")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        _tracing.materialize(self, "item()")
        return self._data.item()

    def tolist(self):
        _tracing.materialize(self, "tolist()")
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if self._rg:
            raise RuntimeError(NUMPY_OF_REQUIRES_GRAD)
        _tracing.materialize(self, "conversion to a numpy array")
        data = self._data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            return data.astype(dtype)
        if copy:
            return data.copy()
        return data

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A numpy ufunc's result over a tensor operand, as a tensor (PyTorch's too):
        ``t + np.ones(2)``, which the tensor's operator leaves to numpy, is a Tensor; a
        bool result becomes uint8, as PyTorch's ``__array_wrap__`` makes it."""
        array = np.asarray(array)
        return Tensor._wrap(array.astype(np.uint8) if array.dtype == np.bool_ else array)

    def __dlpack__(self, *args, **kwargs):
        if self._rg:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        _tracing.materialize(self, "export through DLPack")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def _scalar(self, kind: str):
        if self._data.size != 1:
            raise RuntimeError("only one element tensors can be converted to Python scalars")
        _tracing.materialize(self, kind)
        return self._data.reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {list(self.shape)})"
            )
        return bool(self._scalar("bool()"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "biu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._scalar("__index__"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex()"))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        _tracing.materialize(self, "repr()")
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __reduce_ex__(self, protocol):
        raise TypeError("irgrad tensors are not picklable; use irgrad.save, which never runs code")

    def __deepcopy__(self, memo):
        if self._node is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment."
            )
        new = type(self).__new__(type(self))
        _init(new, self._data.copy(), self._rg)
        if self._grad is not None:
            new._grad = Tensor._wrap(self._grad._data.copy())
        new.__dict__.update({k: v for k, v in self.__dict__.items()})
        memo[id(self)] = new
        return new


class _RemovableHandle:
    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# How a stale view's history is re-derived: its chain of view ops applied to its base
# again.  That runs ops, a layer above this one, so the layer that can
# (:mod:`irgrad.view_replay`) registers it at import.
_replay: Callable[[Tensor, tuple], Tensor] | None = None


def set_view_replay(replay: Callable[[Tensor, tuple], Tensor]) -> None:
    """Register the function that re-applies a view's chain of view ops to its base."""
    global _replay
    _replay = replay


def refresh_view(t: Tensor) -> None:
    """Re-derive a view's history from its base if the storage was written since it was derived."""
    view = t._view
    if view is None:
        return
    chain, version, reason = view
    now = t._vc[0]
    if version == now:
        return
    t._view = (chain, now, reason)
    fresh = _replay(t._base, chain)
    # a view made a leaf that requires grad (``b[:2].requires_grad_()`` of a base that does
    # not) stays one: only a base that requires grad gives it history
    own_leaf = t._node is None and t._rg and fresh._node is None
    t._node, t._out_nr, t._rg = fresh._node, fresh._out_nr, fresh._rg or own_leaf
    _tracing.rebind(t, fresh)


def _init(t: Tensor, data: np.ndarray, requires_grad: bool = False) -> None:
    t._data = data
    t._node = None
    t._out_nr = 0
    t._rg = requires_grad
    t._grad = None
    t._vc = None
    t._base = None
    t._view = None
    t._hooks = None
    t._retains_grad = False
    if _tracing.ACTIVE is not None:
        _tracing.created(t)


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(x) for x in data]
    return data
