"""``torch.autograd.profiler.profile``: the older profiler interface some scripts still
use (``with profile() as prof: ...; print(prof.key_averages().table())``), over
:class:`~irgrad.profiler.profile.profile`."""

from __future__ import annotations

from typing import Any

from .events import EventList
from .profile import profile as _profile
from .profile import record_function

__all__ = ["profile", "record_function"]


class profile:  # noqa: N801 - PyTorch's name
    """Record the ``with`` body when ``enabled``; the events are ``function_events`` after it."""

    def __init__(
        self,
        enabled: bool = True,
        *,
        use_cuda: bool = False,
        use_device: str | None = None,
        record_shapes: bool = False,
        with_flops: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_modules: bool = False,
        use_kineto: bool = False,
        use_cpu: bool = True,
        experimental_config: Any = None,
        acc_events: bool = False,
        custom_trace_id_callback: Any = None,
    ) -> None:
        self.enabled = enabled
        self.function_events: EventList | None = None
        self._options = {
            "record_shapes": record_shapes,
            "with_flops": with_flops,
            "profile_memory": profile_memory,
            "with_stack": with_stack,
            "with_modules": with_modules,
        }
        self._profile: _profile | None = None

    def __enter__(self) -> profile:
        if self.enabled:
            self._profile = _profile(**self._options)
            self._profile.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._profile is not None:
            self._profile.stop()
            self.function_events = self._profile.events()

    def _events(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        return self._events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by: str | None = None, row_limit: int = 100, **options: Any) -> str:
        return self._events().table(sort_by=sort_by, row_limit=row_limit, **options)

    def export_chrome_trace(self, path: str) -> None:
        self._events().export_chrome_trace(path)

    @property
    def self_cpu_time_total(self) -> float:
        return self._events().self_cpu_time_total

    def __str__(self) -> str:
        return self.table()
