"""Ed25519 signatures: decisions (contract v1 additions) and the audit log's signed tree heads.

A decision record on ``decisions.v1`` carries two headers: ``lodestone-key-id`` (which key
signed it) and ``lodestone-signature`` (base64 of the Ed25519 signature over the record's value
bytes, exactly as produced). A key id is derived from the public key itself
(``ed25519:`` + the first 16 bytes of SHA-256 of the raw 32-byte key, in hex), so it cannot
name a key other than the one it belongs to; rotating keys means signing with a new private
key while verifiers trust the old and the new public key for a while.

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) whose paths come from
settings; no key is ever kept in the repository.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

if TYPE_CHECKING:
    from services.common.settings import Settings

KEY_ID_HEADER = "lodestone-key-id"
SIGNATURE_HEADER = "lodestone-signature"

Headers = Sequence[tuple[str, bytes]]


class KeyFileError(ValueError):
    """A key file could not be read as an Ed25519 key."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).digest()[:16].hex()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
        key = serialization.load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 public key")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> str:
    """Generate a key pair into two PEM files (private one mode 0600); returns the key id."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_id_of(key.public_key())


class Signer:
    """Signs bytes with one private key; ``key_id`` names its public key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id_of(private_key.public_key())
        self._key_id_bytes = self.key_id.encode("ascii")

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        return cls(load_private_key(path))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """The two signature headers of a record whose value is ``value``."""
        signature = base64.b64encode(self._key.sign(value))
        return [(KEY_ID_HEADER, self._key_id_bytes), (SIGNATURE_HEADER, signature)]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of checking a record's signature: ``problem`` is None when it verifies."""

    key_id: str | None
    signature: bytes | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class KeyRing:
    """The public keys trusted to sign, by key id (several during a rotation)."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id_of(key): key for key in keys}

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> KeyRing:
        return cls(load_public_key(path) for path in paths)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, key_id: str, data: bytes, signature: bytes) -> str | None:
        """None when ``signature`` by ``key_id`` holds over ``data``, else the problem."""
        key = self._keys.get(key_id)
        if key is None:
            return f"key id {key_id!r} is not a trusted key"
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return f"the signature by {key_id} does not verify"
        return None

    def raw_public_keys(self) -> list[bytes]:
        """The trusted keys as raw 32-byte values (to hand to another process)."""
        return [
            key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            for key in self._keys.values()
        ]

    @classmethod
    def from_raw(cls, raw_keys: Iterable[bytes]) -> KeyRing:
        return cls(Ed25519PublicKey.from_public_bytes(raw) for raw in raw_keys)

    def check_record(self, value: bytes, headers: Headers | None) -> SignatureCheck:
        """Check the signature headers of a record whose value is ``value``."""
        parsed = self.read_headers(headers)
        if parsed.problem is not None or parsed.key_id is None or parsed.signature is None:
            return parsed
        return SignatureCheck(
            parsed.key_id, parsed.signature, self.verify(parsed.key_id, value, parsed.signature)
        )

    def read_headers(self, headers: Headers | None) -> SignatureCheck:
        """The signature headers read and the key looked up, the signature not yet checked.

        ``problem`` is set when the record is unsigned, the headers are malformed or the key is
        not trusted; otherwise the caller still has to :meth:`verify` the signature.
        """
        key_id_raw = signature_b64 = None
        for name, header_value in headers or ():
            if name == KEY_ID_HEADER:
                key_id_raw = header_value
            elif name == SIGNATURE_HEADER:
                signature_b64 = header_value
        if key_id_raw is None or signature_b64 is None:
            return SignatureCheck(None, None, "the record is not signed")
        try:
            key_id = key_id_raw.decode("ascii")
            signature = base64.b64decode(signature_b64, validate=True)
        except (UnicodeDecodeError, binascii.Error, ValueError):
            return SignatureCheck(None, None, "malformed signature headers")
        if len(signature) != 64:
            return SignatureCheck(key_id, signature, "an Ed25519 signature is 64 bytes")
        if key_id not in self._keys:
            return SignatureCheck(key_id, signature, f"key id {key_id!r} is not a trusted key")
        return SignatureCheck(key_id, signature, None)


def decision_signer(settings: Settings) -> Signer:
    """The screening service's signer; refuses to go on without a key (decisions are signed)."""
    if settings.decision_signing_key_file is None:
        raise KeyFileError(
            "LODESTONE_DECISION_SIGNING_KEY_FILE is not set: the screening service signs every "
            "decision it publishes"
        )
    return Signer.from_file(settings.decision_signing_key_file)


def decision_keys(settings: Settings, reader: str) -> KeyRing:
    """The public keys ``reader`` checks decisions with; refuses to go on without one.

    Every reader that acts on a decision or shows it to a person (the audit service, the
    console's live view, ``lodestone tail``, shadow screening) takes only decisions whose
    signature verifies: anyone who can write to the decisions topic could otherwise show an
    operator an approval the screening service never made.
    """
    paths = settings.decision_public_keys()
    if not paths:
        raise KeyFileError(
            f"LODESTONE_DECISION_PUBLIC_KEY_FILES is empty: {reader} shows only decisions signed "
            "by a trusted key"
        )
    return KeyRing.from_files(paths)
