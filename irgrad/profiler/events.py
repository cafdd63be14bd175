"""What a profiling run recorded, as ``torch.autograd.profiler_util``'s lists: the events
(:class:`FunctionEvent`: name, start and end, thread, input shapes, and the events
inside it), their averages per name (:class:`FunctionEventAvg`, ``key_averages()``),
PyTorch's table of them, and the Chrome trace format (``chrome://tracing``, Perfetto).

An event's *self* time is its time minus that of the events directly inside it, on its
thread: a ``record_function`` range's self time is what ran there outside irgrad's ops.
Times are kept in microseconds, as PyTorch's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg"]


class _NoDeviceOrMemory:
    """What PyTorch's events also count and irgrad does not record (no accelerator;
    memory, FLOPs): zeros, so tables sort by these keys as PyTorch's CPU tables do."""

    device_time_total = self_device_time_total = cuda_time_total = self_cuda_time_total = 0.0
    device_time = cuda_time = 0.0
    cpu_memory_usage = self_cpu_memory_usage = device_memory_usage = self_device_memory_usage = 0
    flops = 0
    is_async = is_remote = False
    device_type = "CPU"


class FunctionEvent(_NoDeviceOrMemory):
    """One recorded op, backward step, compiled call or ``record_function`` range."""

    def __init__(self, name: str, start_us: float, end_us: float, thread: int, input_shapes) -> None:
        self.name = self.key = name
        self.time_range_start, self.time_range_end = start_us, end_us
        self.thread = thread
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.cpu_children: list[FunctionEvent] = []
        self.cpu_parent: FunctionEvent | None = None
        self.count = 1

    @property
    def cpu_time_total(self) -> float:
        return self.time_range_end - self.time_range_start

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    def __repr__(self) -> str:
        return f"<FunctionEvent name={self.name} cpu_time_total={self.cpu_time_total:.3f}us thread={self.thread}>"


class FunctionEventAvg(_NoDeviceOrMemory):
    """The events of one name (and input shapes, when grouped by them) summed."""

    def __init__(self, key: str, input_shapes) -> None:
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0

    def add(self, event: FunctionEvent) -> FunctionEventAvg:
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        return self

    @property
    def cpu_time(self) -> float:
        """The average time of one event."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}us count={self.count}>"


def nested(records: Iterable[tuple], origin_ns: int) -> list[FunctionEvent]:
    """The recorder's ``(name, start_ns, end_ns, thread, shapes)`` tuples as events in
    start order, each linked to the innermost event around it on its thread."""
    events = [
        FunctionEvent(n, (s - origin_ns) / 1e3, (e - origin_ns) / 1e3, t, sh) for n, s, e, t, sh in records
    ]
    events.sort(key=lambda ev: (ev.thread, ev.time_range_start, -ev.time_range_end))
    open_ranges: list[FunctionEvent] = []
    for event in events:
        while open_ranges and (
            open_ranges[-1].thread != event.thread or open_ranges[-1].time_range_end < event.time_range_end
        ):
            open_ranges.pop()
        if open_ranges:
            event.cpu_parent = open_ranges[-1]
            open_ranges[-1].cpu_children.append(event)
        open_ranges.append(event)
    events.sort(key=lambda ev: ev.time_range_start)
    return events


_SORT_KEYS = {
    "cpu_time_avg": "cpu_time",
    "calls": "count",
    "cuda_time_avg": "cuda_time",
    "device_time_avg": "device_time",
}


def _time(us: float) -> str:
    """PyTorch's format of a duration: ``1.234s``, ``56.789ms`` or ``12.000us``."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of events (or of averages) with PyTorch's views of it."""

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        """One :class:`FunctionEventAvg` per event name (and input shapes), in order of
        first appearance."""
        if group_by_stack_n:
            raise NotImplementedError(
                "key_averages(group_by_stack_n=...): irgrad's profiler records no stacks"
            )
        groups: dict = {}
        for event in self:
            shapes = str(event.input_shapes) if group_by_input_shape else None
            key = (event.key, shapes)
            if key not in groups:
                groups[key] = FunctionEventAvg(
                    event.key, event.input_shapes if group_by_input_shape else None
                )
            groups[key].add(event)
        return EventList(groups.values())

    @property
    def self_cpu_time_total(self) -> float:
        return sum(event.self_cpu_time_total for event in self)

    def table(
        self, sort_by: str | None = None, row_limit: int = 100, max_name_column_width: int = 55, **_
    ) -> str:
        """PyTorch's table: self and total CPU time (and their shares), average time and
        calls per row, sorted by ``sort_by`` (an attribute such as ``"cpu_time_total"``
        or ``"self_cpu_time_total"``, largest first), at most ``row_limit`` rows."""
        averages = list(self) if self and isinstance(self[0], FunctionEventAvg) else self.key_averages()
        total = sum(row.self_cpu_time_total for row in averages) or 1.0
        rows = (
            sorted(averages, key=lambda row: getattr(row, _SORT_KEYS.get(sort_by, sort_by)), reverse=True)
            if sort_by
            else averages
        )
        if row_limit > 0:
            rows = rows[:row_limit]
        with_shapes = any(getattr(row, "input_shapes", None) is not None for row in rows)
        width = min(max_name_column_width, max([4, *(len(row.key) for row in rows)]))
        headers = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
        columns = [width] + [12] * len(headers) + ([33] if with_shapes else [])
        rule = "  ".join("-" * w for w in columns) + "  "
        names = ["Name", *headers] + (["Input Shapes"] if with_shapes else [])
        lines = [rule, "  ".join(n.rjust(w) for n, w in zip(names, columns)) + "  ", rule]
        for row in rows:
            cells = [
                row.key[: width - 3] + "..." if len(row.key) > width else row.key,
                f"{100 * row.self_cpu_time_total / total:.2f}%",
                _time(row.self_cpu_time_total),
                f"{100 * row.cpu_time_total / total:.2f}%",
                _time(row.cpu_time_total),
                _time(row.cpu_time),
                str(row.count),
            ] + ([str(row.input_shapes)] if with_shapes else [])
            lines.append("  ".join(c.rjust(w) for c, w in zip(cells, columns)) + "  ")
        lines += [rule, f"Self CPU time total: {_time(total)}", ""]
        return "\n".join(lines)

    def export_chrome_trace(self, path: str) -> None:
        """The events as a Chrome trace (complete events, microseconds) at ``path``."""
        trace = [
            {
                "ph": "X",
                "cat": "cpu_op",
                "name": event.name,
                "pid": 0,
                "tid": event.thread,
                "ts": event.time_range_start,
                "dur": event.cpu_time_total,
                "args": {"Input Dims": event.input_shapes} if event.input_shapes else {},
            }
            for event in self
        ]
        with open(path, "w") as out:
            json.dump({"traceEvents": trace, "displayTimeUnit": "us"}, out)
