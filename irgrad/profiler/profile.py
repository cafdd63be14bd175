"""``profile``, ``record_function``, ``schedule`` and ``tensorboard_trace_handler``, as
``torch.profiler``: what ran, for how long, on the CPU.

While a profile records, every op irgrad dispatches is an event ``irgrad::<op>`` (with
its input shapes under ``record_shapes``), every step of an eager backward
``autograd::engine::evaluate_function: <Node>``, every call of a compiled graph
``irgrad.compile: <name>`` (its native code is one event: irgrad's compiled ops have no
separate timings), and every ``record_function`` range its name.  A ``schedule``
decides per ``step()`` whether to wait, warm up or record, and ``on_trace_ready`` gets the
profile at the end of each recorded cycle.  irgrad counts neither FLOPs nor memory nor
stacks: those options warn that they are ignored.
"""

from __future__ import annotations

import enum
import functools
import gzip
import os
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

from .. import _profiling
from .events import EventList, nested

__all__ = [
    "ProfilerAction",
    "ProfilerActivity",
    "profile",
    "record_function",
    "schedule",
    "supported_activities",
    "tensorboard_trace_handler",
]


class ProfilerActivity(enum.Enum):
    """The devices PyTorch's profiler can watch; irgrad records ``CPU`` (the others, on a
    machine without them, record nothing, as in PyTorch)."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities() -> set[ProfilerActivity]:
    return {ProfilerActivity.CPU}


class ProfilerAction(enum.Enum):
    """What a profile does at a step: nothing, warm up, record, or record and then hand
    the recorded cycle to ``on_trace_ready``."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(
    *, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0, skip_first_wait: int = 0
) -> Callable[[int], ProfilerAction]:
    """PyTorch's profiling schedule: after ``skip_first`` steps, cycles of ``wait`` idle,
    ``warmup`` warm-up and ``active`` recorded steps (the last of which saves), ``repeat``
    times (0: for ever); ``skip_first_wait`` drops the first cycle's wait."""
    if not (wait >= 0 and warmup >= 0 and active > 0 and repeat >= 0 and skip_first >= 0):
        raise AssertionError("Invalid profiler schedule arguments")
    if warmup == 0:
        warnings.warn(
            "Profiler won't be using warmup, this can skew profiler results", UserWarning, stacklevel=2
        )

    def action(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Invalid step number: {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        within = step % cycle
        if within < wait:
            return ProfilerAction.NONE
        if within < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if within < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(
    dir_name: str, worker_name: str | None = None, use_gzip: bool = False
) -> Callable[[profile], None]:
    """An ``on_trace_ready`` that writes each recorded cycle as a Chrome trace into
    ``dir_name`` (``{worker}.{milliseconds}.pt.trace.json``, gzipped on request), the
    files TensorBoard's profiler plugin and Perfetto read."""

    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{worker}.{time.time_ns() // 1_000_000}.pt.trace.json")
        prof.export_chrome_trace(path)
        if use_gzip:
            with open(path, "rb") as plain, gzip.open(path + ".gz", "wb") as packed:
                packed.write(plain.read())
            os.remove(path)

    return handler


class profile:  # noqa: N801 - PyTorch's name
    """Record what runs inside ``with profile(...) as prof:`` (or between ``start()`` and
    ``stop()``), following ``schedule`` over ``step()`` calls; see the module doc."""

    def __init__(
        self,
        *,
        activities: Any = None,
        schedule: Callable[[int], ProfilerAction] | None = None,
        on_trace_ready: Callable[[profile], Any] | None = None,
        record_shapes: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_flops: bool = False,
        with_modules: bool = False,
        experimental_config: Any = None,
        execution_trace_observer: Any = None,
        acc_events: bool = False,
        use_cuda: bool | None = None,
        custom_trace_id_callback: Callable[[], str] | None = None,
    ) -> None:
        ignored = [
            name
            for name, value in (
                ("profile_memory", profile_memory),
                ("with_stack", with_stack),
                ("with_flops", with_flops),
                ("with_modules", with_modules),
            )
            if value
        ]
        if ignored:
            warnings.warn(
                f"irgrad.profiler records CPU times and input shapes only: {', '.join(ignored)} ignored",
                UserWarning,
                stacklevel=2,
            )
        self.activities = set(activities) if activities is not None else supported_activities()
        self.schedule = schedule or _always_record
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recorder: _profiling.Recorder | None = None
        self._origin = _profiling.clock()
        self._events = EventList()

    # --- recording ----------------------------------------------------------------------------
    def _begin(self) -> None:
        if _profiling.ACTIVE is not None:
            raise RuntimeError("Profiler is already enabled: irgrad records one profile at a time")
        if ProfilerActivity.CPU in self.activities:
            self._recorder = _profiling.Recorder(self.record_shapes)
            _profiling.ACTIVE = self._recorder

    def _finish(self, save: bool) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None and _profiling.ACTIVE is recorder:
            _profiling.ACTIVE = None
        self._events = EventList(nested(recorder.events if recorder else (), self._origin))
        if save and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _move(self, before: ProfilerAction, after: ProfilerAction | None) -> None:
        recording = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if before in recording and (before is ProfilerAction.RECORD_AND_SAVE or after not in recording):
            self._finish(save=True)
        if after in recording and self._recorder is None:
            self._begin()

    def start(self) -> None:
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._move(ProfilerAction.NONE, self.current_action)

    def stop(self) -> None:
        self._move(self.current_action, None)
        self.current_action = ProfilerAction.NONE

    def step(self) -> None:
        """The end of a training step: the schedule's next action begins."""
        before = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._move(before, self.current_action)

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- results ------------------------------------------------------------------------------
    def events(self) -> EventList:
        """The events of the last recorded cycle."""
        return self._events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        return self._events.key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path: str) -> None:
        self._events.export_chrome_trace(path)


class record_function:  # noqa: N801 - PyTorch's name
    """A named range in the profile (``with record_function("forward"):`` or as a
    decorator); it costs nothing when no profile records."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._start: int | None = None

    def __enter__(self) -> record_function:
        self._recorder = _profiling.ACTIVE
        if self._recorder is not None:
            self._start = _profiling.clock()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._recorder is not None:
            self._recorder.add(self.name, self._start, _profiling.clock())

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapped
