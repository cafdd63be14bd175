"""A module's conversions: ``to``, ``float``/``double``/``half``, ``type``, ``cpu``/``cuda``
and ``to_empty``, as a base class of :class:`.module.Module`.

Every conversion goes through ``_apply(fn)``, as in PyTorch: a parameter keeps its
identity (its data, and its gradient's, is replaced, so optimizers holding it stay
valid) while a buffer is replaced by ``fn(buffer)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ...creation import empty_like
from ...dtypes import to_dtype
from ...recording.grad_mode import no_grad
from ...tensor import Tensor, to_target

_Self = TypeVar("_Self", bound="Conversion")


class Conversion:
    """The conversion half of :class:`~irgrad.nn.Module` (see the module doc)."""

    def _apply(self: _Self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> _Self:
        """Convert every parameter in place (keeping its identity) and replace every buffer;
        the submodules' too unless ``recurse`` is false."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                p._set_data(fn(p)._data)
                if p._grad is not None:
                    p._grad._set_data(fn(p._grad)._data)
            for key, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[key] = fn(buf)
        return self

    def to(self: _Self, *args: Any, **kwargs: Any) -> _Self:
        """``to(dtype)``, ``to('cpu')``, ``to(tensor)``: converts floating parameters and buffers."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        dt = to_target(args, dtype, device)
        if dt is None:
            return self
        if not dt.is_floating_point:
            raise TypeError(
                f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dt}"
            )
        return self._apply(lambda t: t.to(dt) if t.is_floating_point() else t)

    def to_empty(self: _Self, *, device: Any, recurse: bool = True) -> _Self:
        """Give every parameter and buffer fresh storage of its shape and dtype on ``device``
        (values unspecified; irgrad's are zeros), as PyTorch's, which materializes a module
        built on the meta device before ``reset_parameters`` or a ``load_state_dict``.
        Parameters keep their identity; ``recurse=False`` leaves the submodules alone."""
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def float(self: _Self) -> _Self:
        return self.to(to_dtype("float32"))

    def double(self: _Self) -> _Self:
        return self.to(to_dtype("float64"))

    def half(self: _Self) -> _Self:
        return self.to(to_dtype("float16"))

    def type(self: _Self, dst_type: Any) -> _Self:
        return self._apply(lambda t: t.type(dst_type))

    def cpu(self: _Self) -> _Self:
        return self

    def share_memory(self: _Self) -> _Self:
        """Move every parameter, gradient and buffer to memory shared with other processes
        (``Tensor.share_memory_``), as PyTorch's: processes that receive the module (a
        forked child, a spawned one, a queue's reader) then train the same weights."""
        return self._apply(lambda t: t.share_memory_())

    def cuda(self: _Self, device: Any = None) -> _Self:
        """irgrad runs on the CPU only: raises, as ``.to("cuda")`` does."""
        to_target((), device_arg="cuda" if device is None else f"cuda:{device}")
        return self
