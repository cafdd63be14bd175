"""The IR's value types and node kinds, below the graph and its printer (both read them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..dtypes import dtype
from .run_time_sizes import Size

Dim = int | str


@dataclass(frozen=True)
class TensorType:
    """The static type of a value: its shape (ints or symbols) and dtype."""

    shape: tuple[Dim, ...]
    dtype: dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        """Whether every dimension is an int, or a run-time :class:`~.run_time_sizes.Size`
        (which the compiler handles as an int, recording what it assumed)."""
        return all(isinstance(d, (int, Size)) for d in self.shape)

    def numel(self) -> int:
        n = 1
        for d in self.shape:
            if not isinstance(d, (int, Size)):
                raise ValueError(f"numel of a symbolic shape {self.shape}")
            n *= d
        return n


# Node kinds other than op applications.  A fused group with several results (one loop
# computing them all) is its first result; each other one is a RESULT node
# ``result(%group, index=k)``, which computes nothing.
INPUT, CONSTANT, FUSED, RESULT = "input", "constant", "fused", "result"
# Roles of graph inputs: a user argument, a parameter, a buffer, or other state the
# function reads (closures, globals, optimizer state, ``.grad``).
USER, PARAM, BUFFER, STATE_ROLE = "input", "param", "buffer", "state"
