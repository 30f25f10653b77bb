"""Detection algorithms: pure functions over tables and graphs, never a database call."""

__all__: list[str] = []
