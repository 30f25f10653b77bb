"""``fapiao keys``: the installation's signing key (audit head, case files)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("keys")
def keys() -> None:
    """The installation's Ed25519 signing key: created on first use, private key readable only by you.

    Give the exported public key to whoever must verify case files or the audit head without the
    workspace (`fapiao case verify FILE.zip --public-key fapiao-signing.pub`).
    """


@keys.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the public key (PEM) to this file instead of printing it.")
def keys_export(out: Path | None) -> None:
    """Print (or write) the public key and its fingerprint; the private key never leaves FAPIAO_KEY_DIR."""
    from workbench import signing

    public = signing.private_key().public_key()
    pem = signing.public_pem(public)
    if out is None:
        click.echo(pem.decode("ascii"), nl=False)
    else:
        out.write_bytes(pem)
        click.echo(str(out))
    click.echo(f"fingerprint: {signing.fingerprint(public)}", err=out is None)
