"""Export archives encrypted at rest, written and read as streams of any size.

The layout is the segmented AEAD of Tink's "AES-GCM-HKDF streaming" and of age's payload (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár): a header with a random salt and nonce prefix;
a key of the file's own, derived from the lab's secret key and the salt with HKDF-SHA256; the
plaintext cut into 64 KiB segments, each sealed with AES-256-GCM under the nonce
``prefix || segment number || last flag``. Segments cannot be reordered, dropped or cut off at the
end without the reader noticing, and no segment is ever held in memory twice.

During a key rotation the previous secret key still opens archives written before it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"PRVXP\x00\x01\n"
SEGMENT = 64 * 1024
_TAG = 16
_SALT = 32
_PREFIX = 7
HEADER_SIZE = len(MAGIC) + _SALT + _PREFIX
_INFO = b"provisioner export archive v1"


class SealBroken(Exception):
    """The archive does not open with the lab's keys, or was changed, reordered or cut short."""


def _key(secret_key: str, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(secret_key.encode())
    return AESGCM(derived)


def _nonce(prefix: bytes, number: int, *, last: bool) -> bytes:
    return prefix + number.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class SealedWriter:
    """A write-only binary stream that seals what it is given into ``out``; ``close`` seals the last
    segment (an archive not closed does not open, so a half-written one is never taken for whole)."""

    def __init__(self, out: BinaryIO, secret_key: str) -> None:
        salt, self._prefix = os.urandom(_SALT), os.urandom(_PREFIX)
        self._header = MAGIC + salt + self._prefix
        self._aead = _key(secret_key, salt)
        self._out = out
        self._buffer = bytearray()
        self._number = 0
        self.closed = False
        out.write(self._header)

    def write(self, data: bytes) -> int:
        self._buffer += data
        # Held back until more comes or the stream closes: only then is it known which segment is last.
        while len(self._buffer) > SEGMENT:
            self._seal(bytes(self._buffer[:SEGMENT]), last=False)
            del self._buffer[:SEGMENT]
        return len(data)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        if self._number >= 2**32 - 1:
            raise ValueError("an archive holds at most 2^32 segments (256 TiB)")
        nonce = _nonce(self._prefix, self._number, last=last)
        self._out.write(self._aead.encrypt(nonce, plain, self._header))
        self._number += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._out.flush()
            self.closed = True


def opened(source: BinaryIO, secret_keys: list[str]) -> Iterator[bytes]:
    """The plaintext of a sealed archive, segment by segment; ``SealBroken`` when it does not open whole."""
    header = source.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or not header.startswith(MAGIC):
        raise SealBroken("not an export archive of this lab")
    salt, prefix = header[len(MAGIC) : len(MAGIC) + _SALT], header[len(MAGIC) + _SALT :]
    current = source.read(SEGMENT + _TAG)
    aead = _opening_key(secret_keys, salt, prefix, header, current, last=len(current) < SEGMENT + _TAG)
    number = 0
    while True:
        following = source.read(SEGMENT + _TAG) if len(current) == SEGMENT + _TAG else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, number, last=last), current, header)
        except InvalidTag as exc:
            raise SealBroken("the archive was changed or cut short") from exc
        if last:
            return
        current, number = following, number + 1


def _opening_key(
    secret_keys: list[str], salt: bytes, prefix: bytes, header: bytes, first: bytes, *, last: bool
) -> AESGCM:
    # Tried on the first segment: whichever key opens it (the current one, or the previous during a
    # rotation) opens the rest.
    for secret_key in secret_keys:
        aead = _key(secret_key, salt)
        for flag in (last, not last):
            try:
                aead.decrypt(_nonce(prefix, 0, last=flag), first, header)
            except InvalidTag:
                continue
            return aead
    raise SealBroken("the archive does not open with the lab's secret key")
