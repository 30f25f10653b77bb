"""Compressed input: ``.gz`` files and ``.zip`` archives, unpacked with limits (no ``../`` member names,
no absolute paths, no zip bombs) before any reader sees them."""

from __future__ import annotations

import gzip
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from graph.core.errors import InvalidData

#: Most bytes one compressed byte may expand to (real CSV exports: ~5×; a zip bomb: thousands).
MAX_RATIO = 100
#: Below this many unpacked bytes the ratio is not checked (tiny, highly repetitive files are fine).
RATIO_FLOOR = 16 << 20
#: Most bytes an archive or .gz may unpack to in all.
MAX_UNPACKED = 8 << 30
CHUNK = 1 << 20


def _check(path: Path, what: str, packed: int, unpacked: int) -> None:
    if unpacked > MAX_UNPACKED:
        raise InvalidData(f"{path}: {what} unpacks to more than {MAX_UNPACKED >> 30} GB; refused")
    if unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1):
        raise InvalidData(f"{path}: {what} expands more than {MAX_RATIO}× ({packed:,} → {unpacked:,}+ bytes); "
                          "refused as a possible zip bomb")


def gunzip(path: Path, dest: Path) -> Path:
    """Unpack ``x.csv.gz`` to ``dest/x.csv`` with the expansion limits; returns the unpacked path."""
    out = dest / (Path(path.stem).name or "data")
    packed = path.stat().st_size
    written = 0
    try:
        with gzip.open(path, "rb") as src, out.open("wb") as dst:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                _check(path, "the .gz file", packed, written)
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise InvalidData(f"{path}: not a readable .gz file ({e})") from e
    return out


@dataclass(frozen=True)
class Member:
    """One unpacked archive member: its name in the archive and where it now is (or why it is refused)."""

    name: str
    path: Path | None
    error: str = ""


def _safe_name(name: str) -> str | None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0].endswith(":")):
        return None
    return str(p)


def _decode_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:   # names flagged UTF-8
        return info.filename
    try:   # Windows archives made in China store names in GBK
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def unzip(path: Path, dest: Path) -> list[Member]:
    """Unpack a zip archive member by member into ``dest``. A member with ``..`` or an absolute name,
    or one that expands beyond the limits, is not unpacked and comes back with ``error`` set; a damaged
    or encrypted archive raises :class:`InvalidData`."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidData(f"{path}: not a readable zip archive ({e})") from e
    members: list[Member] = []
    total = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = _decode_name(info)
            safe = _safe_name(name)
            if safe is None:
                members.append(Member(name, None, "member name leaves the archive (../ or absolute path); not unpacked"))
                continue
            if info.flag_bits & 0x1:
                members.append(Member(name, None, "member is encrypted; not unpacked"))
                continue
            out = dest / safe
            out.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, out.open("wb") as dst:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        _check(path, f"member {name!r}", info.compress_size, written)
                        _check(path, "the archive", path.stat().st_size, total)
                        dst.write(chunk)
            except InvalidData as e:
                out.unlink(missing_ok=True)
                members.append(Member(name, None, str(e)))
                if total > MAX_UNPACKED:
                    break
                continue
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as e:
                out.unlink(missing_ok=True)
                members.append(Member(name, None, f"member cannot be unpacked ({e})"))
                continue
            members.append(Member(name, out))
    return members


def copy_member(src: Path, dest: Path) -> Path:
    """Copy a plain file into ``dest`` (folders are loaded like archives)."""
    out = dest / src.name
    shutil.copyfile(src, out)
    return out
