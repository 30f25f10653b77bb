"""``python -m workbench.cli`` runs the ``fapiao`` command."""

from workbench.cli import main

if __name__ == "__main__":  # importing this module (e.g. an import sweep) must not run the command
    main()
