"""Which files a command reads and writes, checked before any work is done.

Inputs must be regular files: a symlink to ``/dev/zero`` would grow memory without bound and
a FIFO would block forever. An output may not be an input, another output of the same
command, or an existing file that is not a regular file (a device, FIFO or directory), and
its folder must exist. Paths are compared after resolving symlinks, and by inode, so a
symlink or hard link to an input is still that input. TOML inputs (configs, policies,
manifests) are parsed by one function that turns every failure into one line. Outputs are
written atomically: a temporary file in the same folder, then a rename.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError, FairauditError, OutputError
from fairaudit.runtime import signals_deferred

__all__ = [
    "MSG_OUTPUT_IS_JSON",
    "atomic_write_bytes",
    "atomic_write_many",
    "FileRole",
    "check_file_roles",
    "check_folder_writable",
    "parse_toml",
    "read_regular_bytes",
    "read_toml_file",
    "refuse_special_file",
    "require_regular_file",
]


@dataclass(frozen=True)
class FileRole:
    """A file a command uses: what it is (``data``, ``--junit``), its path, and its flag."""

    what: str
    path: Path
    flag: str = ""


#: Why a device, FIFO or socket is refused where a file is read.
NOT_REGULAR = "not a regular file (a device, FIFO or socket)"

MSG_OUTPUT_IS_JSON = (
    "output '{path}' ends in .json; -o names the HTML report (the JSON is written beside it)"
)


def refuse_special_file(
    path: str | os.PathLike[str], what: str, *, error: type[FairauditError] = ConfigError
) -> None:
    """Raise ``error`` if ``path`` exists but is not a regular file (symlinks followed).

    A missing file is left to the caller, whose message for it names the flag to fix.
    """
    try:
        mode = os.stat(path).st_mode  # stat never blocks, even on a FIFO
    except OSError:
        return
    if stat.S_ISDIR(mode):
        raise error(f"{what} '{path}' is a directory; pass a file")
    if not stat.S_ISREG(mode):
        raise error(f"{what} '{path}' is {NOT_REGULAR}; pass a file, or copy the contents into one")


def read_regular_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the bytes of the regular file ``path``; raise OSError for anything else.

    Opened without blocking and checked on the open descriptor, so a FIFO or device put in
    the file's place between a check and the read is refused too. Callers map the OSError
    (``strerror`` says what is wrong) to their own one-line message.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise OSError(errno.EISDIR, "a directory, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, os.fspath(path))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def require_regular_file(
    path: str | os.PathLike[str], what: str, *, error: type[FairauditError] = ConfigError
) -> Path:
    """Return ``path`` if it names a regular file (symlinks followed), else raise ``error``."""
    path = Path(path)
    if not os.path.lexists(path) or not os.path.exists(path):
        raise error(f"{what} '{path}' not found")
    refuse_special_file(path, what, error=error)
    return path


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """Return the resolved path and, if the file exists, its (device, inode)."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return real, None
    return real, (info.st_dev, info.st_ino)


def _same(a: tuple[str, tuple[int, int] | None], b: tuple[str, tuple[int, int] | None]) -> bool:
    return a[0] == b[0] or (a[1] is not None and a[1] == b[1])


def _check_output_itself(role: FileRole) -> None:
    path = role.path
    try:
        mode: int | None = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise OutputError(
            f"{role.what} '{path}' exists and is {kind}; choose a file path"
            + (f" for {role.flag}" if role.flag else "")
        )
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        shown = path.parent if str(path.parent) else Path(".")
        raise OutputError(f"{role.what} folder '{shown}' does not exist; create it first")


def check_file_roles(outputs: Iterable[FileRole], inputs: Iterable[FileRole]) -> None:
    """Raise OutputError if an output is unusable, is an input, or is another output."""
    known_inputs = [(role, _identity(role.path)) for role in inputs]
    seen: list[tuple[FileRole, tuple[str, tuple[int, int] | None]]] = []
    for role in outputs:
        _check_output_itself(role)
        identity = _identity(role.path)
        flag = role.flag or role.what
        for source, source_identity in known_inputs:
            if _same(identity, source_identity):
                raise OutputError(
                    f"{role.what} '{role.path}' is an input of this audit "
                    f"({source.what} '{source.path}'); choose another {flag} path"
                )
        for other, other_identity in seen:
            if _same(identity, other_identity):
                raise OutputError(
                    f"{role.what} '{role.path}' and {other.what} '{other.path}' are the same "
                    f"file; choose another {flag} path"
                )
        seen.append((role, identity))


def check_folder_writable(folder: str | os.PathLike[str], what: str) -> None:
    """Raise OutputError unless a file can be created in ``folder`` (tried, then removed).

    A real attempt, because permission bits say nothing for root or a read-only mount.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError(f"{what} folder '{folder}' does not exist; create it first")
    try:
        fd, probe = tempfile.mkstemp(prefix=".fairaudit-probe.", dir=folder)
    except OSError as exc:
        raise OutputError(
            f"cannot write to the {what} folder '{folder}': {exc.strerror or exc}"
        ) from None
    os.close(fd)
    os.unlink(probe)


def parse_toml(
    content: bytes | str, source: str, *, error: type[FairauditError] = ConfigError
) -> dict[str, Any]:
    """Return the TOML document in ``content``; ``source`` names it in the one-line error."""
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        return tomllib.loads(text)
    except UnicodeDecodeError:
        raise error(f"cannot read {source}: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{source} nests arrays or tables too deeply to be read") from None


def read_toml_file(
    path: str | os.PathLike[str], what: str, *, error: type[FairauditError] = ConfigError
) -> tuple[dict[str, Any], bytes]:
    """Return the TOML document in the file ``path`` and its bytes (for a digest)."""
    refuse_special_file(path, what, error=error)
    try:
        raw = read_regular_bytes(path)
    except FileNotFoundError:
        raise error(f"{what} '{path}' not found") from None
    except OSError as exc:
        raise error(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    return parse_toml(raw, f"{what} '{path}'", error=error), raw


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
