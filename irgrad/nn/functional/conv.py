"""Functional convolution and pooling: conv1d, conv2d, conv_transpose2d, max_pool2d ..."""

__all__: list[str] = []
