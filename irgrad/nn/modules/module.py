"""Module: the base class of every layer (registration, state_dict, hooks, train/eval)."""

__all__: list[str] = []
