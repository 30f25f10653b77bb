"""The installation's Ed25519 key pair: signs the audit head and every case-file manifest.

Hashes alone only catch outsiders: whoever can write the workspace can recompute them. A signature
can only be made with the private key, which lives outside the workspace (``FAPIAO_KEY_DIR``, default
``~/.local/share/fapiao/keys``) and is readable only by the service user (file 0600, folder 0700). The
public key is exported (``fapiao keys export``) so an outside party can verify case files and the audit
head without the workspace. A key is named by its fingerprint: the first 16 hex digits of the SHA-256
of its raw 32 public bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from graph.core import settings
from graph.core.errors import ConfigError

ALGORITHM = "ed25519"
PRIVATE_FILE = "fapiao-signing.key"
PUBLIC_FILE = "fapiao-signing.pub"


def key_dir() -> Path:
    """Where the key pair lives (``FAPIAO_KEY_DIR`` or the per-user data folder)."""
    configured = settings.get("FAPIAO_KEY_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fapiao" / "keys"


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted-key compact JSON, UTF-8."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_key() -> Ed25519PrivateKey:
    """The installation key, created on first use (private file 0600 in a 0700 folder)."""
    folder = key_dir()
    path = folder / PRIVATE_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:   # O_EXCL: two processes creating the key at once keep one of them
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            pub = folder / PUBLIC_FILE
            pub.write_bytes(public_pem(key.public_key()))
            pub.chmod(0o644)
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the signing key {PRIVATE_FILE} in FAPIAO_KEY_DIR: {e}") from e
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{PRIVATE_FILE} is not an Ed25519 key")
    return loaded


def public_key(path: Path | None = None) -> Ed25519PublicKey:
    """A public key from a PEM file (an outside party's copy), or the installation's own."""
    if path is None:
        return private_key().public_key()
    try:
        loaded = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read public key {Path(path).name}: {e}") from e
    if not isinstance(loaded, Ed25519PublicKey):
        raise ConfigError(f"{Path(path).name} is not an Ed25519 public key")
    return loaded


def trusted_key(path: Path | None = None) -> Ed25519PublicKey | None:
    """The key to verify against: ``path`` (an outside party's PEM copy), else the installation's own when
    this machine has one (never created here: verifying must not mint a key), else None."""
    if path is not None:
        return public_key(path)
    if (key_dir() / PRIVATE_FILE).exists():
        return private_key().public_key()
    return None


def sign(doc: dict[str, Any]) -> dict[str, str]:
    """``{"alg", "key", "sig"}`` over :func:`canonical` ``(doc)`` with the installation key."""
    key = private_key()
    return {"alg": ALGORITHM, "key": fingerprint(key.public_key()),
            "sig": base64.b64encode(key.sign(canonical(doc))).decode("ascii")}


def check(doc: dict[str, Any], signature: object, public: Ed25519PublicKey) -> str | None:
    """None when ``signature`` (as made by :func:`sign`) is ``public``'s signature of ``doc``, else why not."""
    if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
        return "not signed"
    if signature.get("alg") != ALGORITHM:
        return f"signed with an unknown algorithm {str(signature.get('alg'))[:20]!r}"
    expected = fingerprint(public)
    if signature.get("key") != expected:
        return f"signed by key {str(signature.get('key'))[:20]}, not by the trusted key {expected}"
    try:
        public.verify(base64.b64decode(signature["sig"], validate=True), canonical(doc))
    except (InvalidSignature, ValueError):
        return f"signature by key {expected} does not match the content (changed after signing)"
    return None
