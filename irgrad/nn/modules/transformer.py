"""MultiheadAttention, TransformerEncoderLayer, TransformerEncoder."""

__all__: list[str] = []
