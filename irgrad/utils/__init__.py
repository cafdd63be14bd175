"""irgrad.utils: data loading (``irgrad.utils.data``), activation checkpointing
(``irgrad.utils.checkpoint``) and TensorBoard logging (``irgrad.utils.tensorboard``),
as ``torch.utils``.

``tensorboard`` is imported on first use (as PyTorch's, which ``import torch`` does not
import either): its writer, protobuf encoder and PNG code are 7 ms of ``import irgrad``
that only a script logging to TensorBoard needs."""

import importlib

from . import checkpoint, data

__all__ = ["checkpoint", "data", "tensorboard"]


def __getattr__(name: str):
    if name == "tensorboard":
        return importlib.import_module(f"{__name__}.tensorboard")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
