"""Functional losses: cross_entropy, nll_loss, mse_loss ..."""

__all__: list[str] = []
