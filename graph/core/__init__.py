"""The shared core every package may import: errors, settings, table schemas, the graph model and the
vocabulary (statuses, kinds, tiers with their zh/en labels). It imports nothing else of the project."""
