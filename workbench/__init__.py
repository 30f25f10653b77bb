"""The Streamlit workbench, the `fapiao` CLI, cases, export, audit and auth."""

__all__: list[str] = []
