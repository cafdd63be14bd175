"""Testing helpers for irgrad itself and for its users (as ``torch.testing``).

- :func:`assert_close` (and the deprecated :func:`assert_allclose`) is PyTorch's
  assertion for users' tests, with its tolerances and messages.

- :func:`assert_same` compares two results (eager against compiled) leaf by leaf:
  structure, shapes, dtypes, ``requires_grad`` and values, with NaN and infinity
  positions required to match exactly.
- :func:`check_compiled` runs a function eagerly and through ``irgrad.compile`` on a
  sequence of calls (inference or training, static or dynamic shapes) and raises on
  the first difference; :func:`check_stateful` does the same for a program with state
  outside its arguments.  The differential fuzzer (``python -m irgrad.testing.fuzz``)
  is built on them, and the regression tests it writes call them.
"""

from .assert_close import assert_allclose, assert_close
from .compare import Mismatch, assert_same
from .differential import (
    CompiledError,
    EagerError,
    MissingError,
    arguments,
    check_compiled,
    check_stateful,
)

__all__ = [
    "CompiledError",
    "EagerError",
    "Mismatch",
    "MissingError",
    "arguments",
    "assert_allclose",
    "assert_close",
    "assert_same",
    "check_compiled",
    "check_stateful",
]
