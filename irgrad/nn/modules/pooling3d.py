"""3-D pooling modules: MaxPool3d, AvgPool3d, AdaptiveAvgPool3d."""

from __future__ import annotations

from .. import functional as F
from .pooling import _AdaptivePool, _AvgPoolNd, _MaxPoolNd

__all__ = ["MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d"]


class MaxPool3d(_MaxPoolNd):
    """Max over kd x kh x kw windows of (N, C, D, H, W) input."""

    def forward(self, input):
        return F.max_pool3d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class AvgPool3d(_AvgPoolNd):
    """Mean over kd x kh x kw windows of (N, C, D, H, W) input."""

    def forward(self, input):
        return F.avg_pool3d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AdaptiveAvgPool3d(_AdaptivePool):
    """Average over adaptive windows to a fixed (D, H, W) output size."""

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)
