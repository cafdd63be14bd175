"""``irgrad.fft``, as ``torch.fft``: discrete Fourier transforms of real and complex
tensors with autograd (:mod:`.transforms`) and their frequency helpers
(:mod:`.frequencies`)."""

from . import frequencies, transforms
from .frequencies import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403

__all__ = [*transforms.__all__, *frequencies.__all__]
