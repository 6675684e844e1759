"""Synthetic data sets with a difficulty knob and, where known, the exact NTK margin."""

__all__: list[str] = []
