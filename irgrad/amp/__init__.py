"""``irgrad.amp``: PyTorch's automatic mixed precision API, for scripts that use it.

irgrad computes in the dtypes of its inputs (there is no float16/bfloat16 matmul to
switch to on the CPU), so :class:`autocast` changes no dtype; :class:`GradScaler` is
PyTorch's, and on the CPU does what PyTorch's does there: disabled, everything passes
through; enabled, the loss is scaled, gradients unscaled and checked before each step,
and a step with an inf or NaN gradient skipped.
"""

from .autocast_mode import autocast, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "is_autocast_available"]
