"""Writing artifacts atomically: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from fairaudit._signals import signals_deferred
from fairaudit.errors import OutputError
from fairaudit.paths import FileRole, check_file_roles

__all__ = ["atomic_write_bytes", "atomic_write_many"]


def atomic_write_bytes(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Write ``content`` to ``path`` so that readers see the old file or the new, never half."""
    atomic_write_many({Path(path): content}, mode=mode)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_many(files: Mapping[Path, bytes], *, mode: int | None = None) -> None:
    """Write several files; none is replaced unless every temporary file was written.

    ``mode`` defaults to what a plain ``open()`` would give (0666 less the umask).
    """
    mode = _default_mode() if mode is None else mode
    # A rename over a device, FIFO or folder entry would replace it: refuse, as over a twin.
    check_file_roles([FileRole("output", Path(p)) for p in files], [])
    staged: list[tuple[str, Path]] = []
    try:
        for path, content in files.items():
            folder = path.parent if str(path.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            staged.append((tmp, path))
            os.chmod(tmp, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
        # Ctrl-C or SIGTERM waits for the last rename: a stop leaves all files or none.
        with signals_deferred():
            for tmp, path in staged:
                os.replace(tmp, path)
            staged.clear()
    except OSError as exc:
        raise OutputError(f"cannot write '{exc.filename or ''}': {exc.strerror or exc}") from None
    finally:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
