"""An optimizer's parameter group: a dict that tells a tracing ``irgrad.compile`` which of
its values the traced code read as Python values.

A compiled step fetches the learning rate afresh at every call (a graph input, see
``_Traced.learning_rate`` in :mod:`.arrays`), so a change of rate does not recompile:
the guard accepts any value.  That holds only while nothing else in the traced code
uses the rate as a Python number: a step returning ``opt.param_groups[0]["lr"]``, or a
scheduler computing the next rate from it, bakes the number it read into the capture.
Reads through this dict (``group[key]``, ``get``, iteration, ``items``, ``values``,
copies) are reported to the tracer, which then guards the value as any other.
"""

from __future__ import annotations

from typing import Any

from .. import _tracing


class ParamGroup(dict):
    """A ``dict`` whose reads of a key are reported while a tracer records (see the module doc)."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if _tracing.tracing():
            _tracing.read_item(self, key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if _tracing.tracing():
            _tracing.read_item(self, key)
        return dict.get(self, key, default)

    def _read_all(self) -> None:
        if _tracing.tracing():
            for key in dict.keys(self):
                _tracing.read_item(self, key)

    def __iter__(self):
        # defined (not inherited) so that dict(group) and {**group} read through
        # __getitem__ rather than copying the values directly
        return dict.__iter__(self)

    def items(self):
        self._read_all()
        return dict.items(self)

    def values(self):
        self._read_all()
        return dict.values(self)

    def copy(self) -> dict:
        self._read_all()
        return dict.copy(self)
