"""An optimizer's parameter group: a dict that tells a tracing ``irgrad.compile`` which of
its values the traced code read as Python values.

A compiled step fetches the learning rate (and a momentum, Adam's betas) afresh at every
call (a graph input, see ``_Traced.hyperparameter`` in :mod:`.arrays`), so a change of
rate does not recompile: the guard accepts any value.  That holds only while nothing
else in the traced code uses the rate as a Python number: a step returning
``opt.param_groups[0]["lr"]``, or a scheduler computing the next rate from it, bakes
the number it read into the capture.
Reads through this dict (``group[key]``, ``get``, iteration, ``items``, ``values``,
copies, ``repr``, comparisons) are reported to the tracer, which then guards the value
as any other; writes are reported too, for the scheduler steps a compiled call repeats
(:mod:`irgrad.compiler.deferred`).
"""

from __future__ import annotations

from typing import Any

from .. import _tracing


class ParamGroup(dict):
    """A ``dict`` whose reads and writes of a key are reported while a tracer records (see
    the module doc)."""

    __slots__ = ()
    reports_reads = True  # a tracer may lift a value of it to a graph input (see irgrad.trace)

    def _read(self, *keys) -> None:
        if _tracing.tracing():
            for key in keys or tuple(dict.keys(self)):
                _tracing.read_item(self, key)

    def _wrote(self, *keys) -> None:
        for key in keys:
            _tracing.wrote(self, "item", key)

    # --- reads -------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        self._read(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return dict.get(self, key, default)

    def __iter__(self):
        # defined (not inherited) so that dict(group) and {**group} read through
        # __getitem__ rather than copying the values directly
        return dict.__iter__(self)

    def items(self):
        self._read()
        return dict.items(self)

    def values(self):
        self._read()
        return dict.values(self)

    def copy(self) -> dict:
        self._read()
        return dict.copy(self)

    def __repr__(self) -> str:
        self._read()
        return dict.__repr__(self)

    def __eq__(self, other) -> bool:
        self._read()
        return dict.__eq__(self, other)

    def __ne__(self, other) -> bool:
        self._read()
        return dict.__ne__(self, other)

    __hash__ = None  # as dict's

    # --- writes ------------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        self._wrote(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._wrote(key)
        dict.__delitem__(self, key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        if key not in self:
            self._wrote(key)
        return dict.setdefault(self, key, default)

    def pop(self, key: Any, *default) -> Any:
        self._read(key)
        self._wrote(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple:
        self._read()
        self._wrote(*dict.keys(self))
        return dict.popitem(self)

    def update(self, *args, **kwargs) -> None:
        new = dict(*args, **kwargs)
        self._wrote(*new)
        dict.update(self, new)

    def clear(self) -> None:
        self._wrote(*dict.keys(self))
        dict.clear(self)
