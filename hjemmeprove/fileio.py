"""Writing files that hold personal data: whole or not at all, readable by the owner only.

Every file the program writes (documents, replies, exports, backups) goes through
``write_atomic``: the bytes go to a temporary name in the same folder, are flushed to disk,
and only then renamed to the final name. A full disk, an unusable folder or a kill leaves
either the old file or none under the final name, never a truncated one. Files are created
0600 and folders 0700 (where the platform has POSIX modes), because what we write names
citizens. Errors become a Danish ``OutputError`` naming the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import HjemmeproveError

FILE_MODE = 0o600
DIR_MODE = 0o700


class OutputError(HjemmeproveError):
    """A file or folder could not be written; names the path and why, in Danish."""


def os_error_reason(exc: OSError) -> str:
    """Why a file or folder could not be used, in Danish (the common causes named)."""
    import errno

    return {
        errno.ENOSPC: "disken er fuld",
        errno.EDQUOT: "diskkvoten er opbrugt",
        errno.EACCES: "ingen adgang",
        errno.EPERM: "ingen adgang",
        errno.EROFS: "skrivebeskyttet drev",
        errno.ENOENT: "mappen findes ikke",
        errno.ENOTDIR: "en del af stien er ikke en mappe",
        errno.EISDIR: "stien er en mappe",
        errno.ENAMETOOLONG: "navnet er for langt",
        errno.EFBIG: "filen er for stor",
    }.get(exc.errno, exc.strerror or type(exc).__name__)


def ensure_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if missing; a folder we create is 0700."""
    p = Path(path)
    try:
        if not p.exists():
            p.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                os.chmod(p, DIR_MODE)
        elif not p.is_dir():
            raise OutputError(f"{p}: findes og er ikke en mappe")
    except OSError as e:
        raise OutputError(f"{p}: kan ikke oprette mappen ({os_error_reason(e)})") from e
    return p


def write_atomic(path: str | Path, data: bytes | str, mode: int = FILE_MODE) -> Path:
    """Write ``data`` to ``path`` whole or not at all (temporary name, fsync, rename)."""
    return write_all_atomic({path: data}, mode)[0]


def write_all_atomic(files: dict[str | Path, bytes | str], mode: int = FILE_MODE) -> list[Path]:
    """Write several files so that, on error, none of the new ones is left behind.

    Each is written to a temporary name first; only when every one exists in full are they
    renamed into place. On error, the temporary files are removed and ``OutputError`` raised,
    naming the file that failed.
    """
    staged: list[tuple[str, Path]] = []
    current: Path | str = ""
    try:
        for path, data in files.items():
            current = p = Path(path)
            if isinstance(data, str):
                data = data.encode("utf-8")
            ensure_private_dir(p.parent)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            staged.append((tmp, p))
            try:
                os.fchmod(fd, mode)
            except (AttributeError, OSError):
                pass
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, p in staged:
            current = p
            os.replace(tmp, p)
        for parent in {p.parent for _, p in staged}:
            _fsync_dir(parent)
        done = [p for _, p in staged]
        staged = []
        return done
    except OSError as e:
        raise OutputError(f"{current}: kunne ikke skrives ({os_error_reason(e)})") from e
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def spreadsheet_encoding(head: bytes, whole: bool = True) -> str:
    """The encoding of a text file a user gives the program (a CSV): UTF-8, with or without
    BOM, else Windows-1252, as Danish spreadsheets save it. Decided on ``head``: the whole
    file, or (``whole`` False) its first part, whose last character may be cut."""
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if whole or e.start < len(head) - 3:
            return "cp1252"
    return "utf-8-sig"


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
