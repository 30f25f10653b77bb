"""The Streamlit workbench, the `fapiao` CLI, cases, export, audit and auth."""

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

__all__: list[str] = []
