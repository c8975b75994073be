"""Ed25519 keys for signing reports: generate, load, and name them by key id.

A key id is the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo, so
anyone holding the public key PEM can recompute it with standard tools::

    openssl pkey -pubin -in auditor.pub -outform DER | sha256sum

Keys made elsewhere (``openssl genpkey -algorithm ed25519``) are accepted everywhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fairaudit.errors import SigningError
from fairaudit.paths import read_regular_bytes

__all__ = [
    "SHORT_KEY_ID",
    "KeyPairFiles",
    "PassphraseSource",
    "generate_key_pair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "load_trusted_keys",
    "MSG_KEY_EXISTS",
    "MSG_KEY_NOT_FOUND",
    "MSG_KEY_UNREADABLE",
    "MSG_NOT_ED25519",
    "MSG_NEED_PASSPHRASE",
    "MSG_WRONG_PASSPHRASE",
    "MSG_PRIVATE_KEY_GIVEN",
    "MSG_NO_PUBLIC_KEYS",
    "MSG_BAD_KEY_NAME",
]

MSG_KEY_EXISTS = "{path} already exists; choose another --name or directory."
MSG_KEY_NOT_FOUND = "Key file not found: {path}"
MSG_KEY_UNREADABLE = "{path} is not a PEM key fairaudit can read."
MSG_NOT_ED25519 = (
    "{path} is not an Ed25519 key; make one with 'fairaudit keygen' "
    "or 'openssl genpkey -algorithm ed25519'."
)
MSG_NEED_PASSPHRASE = (
    "{path} is encrypted; set FAIRAUDIT_KEY_PASSPHRASE or use --passphrase-prompt."
)
MSG_WRONG_PASSPHRASE = "Wrong passphrase for {path}."
MSG_PRIVATE_KEY_GIVEN = (
    "{path} is a private key; trust the matching public key instead "
    "(openssl pkey -in {path} -pubout)."
)
MSG_NO_PUBLIC_KEYS = "No public keys (*.pub, *.pem) found in {path}."
MSG_BAD_KEY_NAME = "Key name {name!r} must be a plain file name (no '/' and not starting with '.')."

#: How many hex digits of a key id messages show.
SHORT_KEY_ID = 16
PRIVATE_KEY_SUFFIX = ".key"
PUBLIC_KEY_SUFFIX = ".pub"
_PUBLIC_KEY_GLOBS = ("*.pub", "*.pem")

#: A passphrase, a callable asked for one only when the key turns out to be encrypted, or None.
PassphraseSource = bytes | Callable[[], bytes] | None


@dataclass(frozen=True)
class KeyPairFiles:
    """Where ``generate_key_pair`` wrote a key pair, and the pair's key id."""

    private_key: Path
    public_key: Path
    key_id: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return the lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def generate_key_pair(
    directory: str | os.PathLike[str],
    *,
    name: str = "fairaudit",
    passphrase: bytes | None = None,
) -> KeyPairFiles:
    """Return the files of a new Ed25519 key pair written to ``directory``.

    The private key is PKCS#8 PEM ``<name>.key`` with mode 0600 (encrypted when a passphrase
    is given); the public key is SubjectPublicKeyInfo PEM ``<name>.pub``. Existing files are
    never overwritten.
    """
    if not name or "/" in name or os.sep in name or name.startswith("."):
        raise SigningError(MSG_BAD_KEY_NAME.format(name=name))
    folder = Path(directory)
    private_path = folder / f"{name}{PRIVATE_KEY_SUFFIX}"
    public_path = folder / f"{name}{PUBLIC_KEY_SUFFIX}"
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError(MSG_KEY_EXISTS.format(path=path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SigningError(f"Cannot create {folder}: {e.strerror}.") from e

    private_key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # O_EXCL with mode 0600 so the private key never exists, even briefly, readable by others.
    _write_new_file(private_path, private_pem, mode=0o600)
    _write_new_file(public_path, public_pem, mode=0o644)
    return KeyPairFiles(private_path, public_path, key_id(private_key.public_key()))


def _write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as e:
        raise SigningError(MSG_KEY_EXISTS.format(path=path)) from e
    except OSError as e:
        raise SigningError(f"Cannot write {path}: {e.strerror}.") from e
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # the umask may have narrowed it; 0600 stays 0600 either way


def _read_key_file(path: Path) -> bytes:
    try:
        return read_regular_bytes(path)
    except FileNotFoundError as e:
        raise SigningError(MSG_KEY_NOT_FOUND.format(path=path)) from e
    except OSError as e:
        raise SigningError(f"Cannot read {path}: {e.strerror}.") from e


def load_private_key(
    path: str | os.PathLike[str], *, passphrase: PassphraseSource = None
) -> Ed25519PrivateKey:
    """Return the Ed25519 private key in the PEM file at ``path``.

    ``passphrase`` may be a callable; it is called only if the key is encrypted.
    """
    key_path = Path(path)
    pem = _read_key_file(key_path)
    if b"PRIVATE KEY-----" not in pem:
        if b"PUBLIC KEY-----" in pem:
            raise SigningError(f"{key_path} is a public key; signing needs the private key.")
        raise SigningError(MSG_KEY_UNREADABLE.format(path=key_path))
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem
    password: bytes | None = None
    if encrypted:
        password = passphrase() if callable(passphrase) else passphrase
        if not password:
            raise SigningError(MSG_NEED_PASSPHRASE.format(path=key_path))
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as e:  # raised when a password is missing or superfluous
        raise SigningError(MSG_NEED_PASSPHRASE.format(path=key_path)) from e
    except UnsupportedAlgorithm as e:
        raise SigningError(MSG_NOT_ED25519.format(path=key_path)) from e
    except ValueError as e:
        if encrypted:
            raise SigningError(MSG_WRONG_PASSPHRASE.format(path=key_path)) from e
        raise SigningError(MSG_KEY_UNREADABLE.format(path=key_path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(MSG_NOT_ED25519.format(path=key_path))
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Return the Ed25519 public key in the SubjectPublicKeyInfo PEM file at ``path``."""
    key_path = Path(path)
    pem = _read_key_file(key_path)
    if b"PRIVATE KEY-----" in pem:
        raise SigningError(MSG_PRIVATE_KEY_GIVEN.format(path=key_path))
    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm as e:
        raise SigningError(MSG_NOT_ED25519.format(path=key_path)) from e
    except ValueError as e:
        raise SigningError(MSG_KEY_UNREADABLE.format(path=key_path)) from e
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(MSG_NOT_ED25519.format(path=key_path))
    return key


def load_trusted_keys(
    files: Iterable[str | os.PathLike[str]] = (),
    directories: Iterable[str | os.PathLike[str]] = (),
) -> dict[str, Ed25519PublicKey]:
    """Return the trusted public keys by key id, from PEM files and directories of them.

    In a directory every ``*.pub`` and ``*.pem`` holding a public key is trusted; private keys
    lying beside them (as ``keygen`` leaves them) are skipped. A file named explicitly must be
    a public key.
    """
    trusted: dict[str, Ed25519PublicKey] = {}
    for file in files:
        key = load_public_key(file)
        trusted[key_id(key)] = key
    for directory in directories:
        folder = Path(directory)
        if not folder.is_dir():
            raise SigningError(f"Not a directory: {folder}")
        found = 0
        for pattern in _PUBLIC_KEY_GLOBS:
            for path in sorted(folder.glob(pattern)):
                if b"PRIVATE KEY-----" in _read_key_file(path):
                    continue
                key = load_public_key(path)
                trusted[key_id(key)] = key
                found += 1
        if not found:
            raise SigningError(MSG_NO_PUBLIC_KEYS.format(path=folder))
    return trusted
