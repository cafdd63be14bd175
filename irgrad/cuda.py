"""``irgrad.cuda``: irgrad runs on the CPU only; these answer as PyTorch does without a GPU."""

from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Accepted (there is no GPU generator to seed)."""


def manual_seed_all(seed: int) -> None:
    """Accepted (there is no GPU generator to seed)."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False
