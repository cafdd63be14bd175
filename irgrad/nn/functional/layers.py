"""Functional layers: linear, dropout, embedding, layer_norm, batch_norm, one_hot, pad."""

__all__: list[str] = []
