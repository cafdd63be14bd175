"""Weight initialisation (nn.init), with PyTorch's distributions and fan computations."""

__all__: list[str] = []
