"""`fapiao --help` lists every command without importing the command modules (issue 17: start-up time), with
the same one-line summary each command's own help gives."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from workbench.cli import COMMANDS, SUMMARIES, cli


def test_every_command_has_a_summary_equal_to_its_own_short_help() -> None:
    assert set(SUMMARIES) == set(COMMANDS)
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        for limit in (30, 60, 94, 400):
            listed = click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit)
            assert listed == command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("args", [["--help"], ["-h"]])
def test_help_lists_every_command_and_imports_none(args: list[str]) -> None:
    probe = ("import sys; sys.argv = ['fapiao', *sys.argv[1:]]\n"
             "from workbench.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('IMPORTED', sorted(m for m in sys.modules if m.startswith('workbench.cli.')))")
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    listing, imported = out.split("IMPORTED")
    for name in COMMANDS:
        assert f"\n  {name} " in listing, name
    assert imported.strip() == "[]"
