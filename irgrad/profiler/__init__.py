"""``irgrad.profiler``: where the time of a run goes, as ``torch.profiler`` (CPU times of
ops, backward steps, compiled calls and named ranges; tables and Chrome traces).

    with irgrad.profiler.profile(record_shapes=True) as prof:
        with irgrad.profiler.record_function("train_step"):
            loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
"""

from .events import EventList, FunctionEvent, FunctionEventAvg
from .profile import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    supported_activities,
    tensorboard_trace_handler,
)

__all__ = [
    "EventList",
    "FunctionEvent",
    "FunctionEventAvg",
    "ProfilerAction",
    "ProfilerActivity",
    "profile",
    "record_function",
    "schedule",
    "supported_activities",
    "tensorboard_trace_handler",
]
