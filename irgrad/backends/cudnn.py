"""``torch.backends.cudnn``: settable flags with PyTorch's defaults; there is no cuDNN."""

from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
