"""``python -m workbench.cli`` runs the ``fapiao`` command."""

from workbench.cli import main

main()
