"""Readers, column mapping, validation, quarantine and the synthetic generator."""

__all__: list[str] = []
