"""Grad modes: whether ops record the autograd graph (thread-local, as in PyTorch).

Every manager here works as a context manager and as a decorator.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

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
    """A grad-mode switch usable with ``with`` and as a decorator (also on generators).

    Each call of a decorated function enters a fresh copy of the switch, so the
    same decorated function may be re-entered (recursion, nested generators).
    """

    enabled: bool = True
    inference: bool | None = None

    def __enter__(self) -> None:
        self._saved = (STATE.enabled, STATE.inference)
        STATE.enabled = self.enabled
        if self.inference is not None:
            STATE.inference = self.inference

    def __exit__(self, *exc: Any) -> None:
        STATE.enabled, STATE.inference = self._saved

    def clone(self) -> _Mode:
        return self.__class__()

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, fn: Callable) -> Callable:
        """The mode holds while the generator runs, not while its caller runs between yields."""

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with self.clone():
                            response = gen.throw(exc)
                    else:
                        with self.clone():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return generator


class _NoParamMode(_Mode):
    """A mode that is also a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func: Callable | None = None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamMode):
    """Disable graph recording: results of ops do not require grad."""

    enabled = False


class enable_grad(_NoParamMode):
    """Enable graph recording (inside a ``no_grad`` block, for example)."""

    enabled = True


class set_grad_enabled(_Mode):
    """Set grad mode to ``mode``: at once when called, restored on leaving a ``with`` block."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._saved = (STATE.enabled, STATE.inference)
        STATE.enabled = self.enabled

    def __enter__(self) -> None:
        if self._saved is None:  # a decorator's fresh copy: nothing switched yet
            self._saved = (STATE.enabled, STATE.inference)
        STATE.enabled = self.enabled

    def __call__(self, fn: Callable) -> Callable:
        # Used as a decorator, the constructor's immediate switch must not leak.
        STATE.enabled, STATE.inference = self._saved
        return super().__call__(fn)

    def clone(self) -> set_grad_enabled:
        clone = object.__new__(set_grad_enabled)
        clone.enabled = self.enabled
        clone._saved = None
        return clone


class inference_mode(_Mode):
    """Like ``no_grad``, for code that will never need autograd (``mode=False``: no effect).

    Also a bare decorator: ``@inference_mode``.
    """

    def __new__(cls, mode: bool | Callable = True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self._saved = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled = False
            STATE.inference = True

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)
