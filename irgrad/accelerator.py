"""``torch.accelerator``: the process's accelerator, which for irgrad is none (it runs
on the CPU).  Scripts ask at start-up (``torch.accelerator.is_available()``) and pick
the CPU when there is none, so these answers let them run unchanged."""

from __future__ import annotations


def is_available() -> bool:
    """False: irgrad has no accelerator."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator device."""
    return None


def device_count() -> int:
    return 0


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU work is done when a call returns."""


__all__ = ["current_accelerator", "device_count", "is_available", "synchronize"]
