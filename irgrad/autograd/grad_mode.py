"""Grad modes: whether ops record the autograd graph (thread-local, as in PyTorch).

Every manager here works as a context manager and as a decorator.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


class _GradState(threading.local):
    enabled = True
    inference = False


STATE = _GradState()


def is_grad_enabled() -> bool:
    """True when ops record the graph for autograd."""
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    return STATE.inference


class _Mode:
    """A grad-mode switch usable with ``with`` and as a decorator (also on generators)."""

    enabled: bool = True
    inference: bool | None = None

    def __enter__(self) -> None:
        self._saved = (STATE.enabled, STATE.inference)
        STATE.enabled = self.enabled
        if self.inference is not None:
            STATE.inference = self.inference

    def __exit__(self, *exc: Any) -> None:
        STATE.enabled, STATE.inference = self._saved

    def clone(self) -> "_Mode":
        return self.__class__()

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(*args, **kwargs):
                gen = fn(*args, **kwargs)
                with self.clone():
                    value = next(gen)
                while True:
                    try:
                        sent = yield value
                    except BaseException as exc:  # forward throw() into the generator
                        with self.clone():
                            value = gen.throw(exc)
                        continue
                    with self.clone():
                        try:
                            value = gen.send(sent)
                        except StopIteration as stop:
                            return stop.value

            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_Mode):
    """Disable graph recording: results of ops do not require grad."""

    enabled = False


class enable_grad(_Mode):
    """Enable graph recording (inside a ``no_grad`` block, for example)."""

    enabled = True


class set_grad_enabled(_Mode):
    """Set grad mode to ``mode``: at once when called, restored on leaving a ``with`` block."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._saved = (STATE.enabled, STATE.inference)
        STATE.enabled = self.enabled

    def __enter__(self) -> None:
        STATE.enabled = self.enabled

    def clone(self) -> "set_grad_enabled":
        clone = object.__new__(set_grad_enabled)
        clone.enabled = self.enabled
        return clone


class inference_mode(_Mode):
    """Like ``no_grad``, for code that will never need autograd (``mode=False``: no effect)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self._saved = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled = False
            STATE.inference = True

    def clone(self) -> "inference_mode":
        return inference_mode(self.mode)
