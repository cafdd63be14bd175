"""PyTorch's import path of the older profiler (``torch.autograd.profiler``): its
``profile`` and ``record_function`` are :mod:`irgrad.profiler`'s (see
:mod:`irgrad.profiler.legacy`)."""

from ..profiler.events import EventList, FunctionEvent, FunctionEventAvg
from ..profiler.legacy import profile, record_function

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "profile", "record_function"]
