"""Variable-length sequences: pad_sequence, pack_padded_sequence, pad_packed_sequence."""

__all__: list[str] = []
