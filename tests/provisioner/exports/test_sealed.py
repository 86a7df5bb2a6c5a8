"""Archives sealed at rest: what goes in comes out, and a changed, reordered or cut-off file does not open."""

from __future__ import annotations

import io
import os

import pytest

from provisioner.exports.sealed import HEADER_SIZE, SEGMENT, SealBroken, SealedWriter, opened

KEY, OTHER = "k" * 32, "o" * 32


def _sealed(plain: bytes, key: str = KEY, pieces: int = 7) -> bytes:
    out = io.BytesIO()
    writer = SealedWriter(out, key)
    step = max(1, len(plain) // pieces)
    for start in range(0, len(plain), step):
        writer.write(plain[start : start + step])
    writer.close()
    return out.getvalue()


def _opened(sealed: bytes, keys: list[str] | None = None) -> bytes:
    return b"".join(opened(io.BytesIO(sealed), keys or [KEY]))


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 5])
def test_what_goes_in_comes_out_at_every_segment_boundary(size: int) -> None:
    plain = os.urandom(size)
    sealed = _sealed(plain)
    assert _opened(sealed) == plain
    # The plaintext is nowhere in the file (a run of a few random bytes may turn up by chance).
    assert plain[:64] not in sealed or size < 16


def test_the_previous_key_still_opens_it_during_a_rotation() -> None:
    sealed = _sealed(b"Mitgliederliste", key=OTHER)
    assert _opened(sealed, [KEY, OTHER]) == b"Mitgliederliste"
    with pytest.raises(SealBroken, match="does not open with the lab's secret key"):
        _opened(sealed, [KEY])


def test_an_archive_cut_off_at_a_segment_boundary_does_not_open() -> None:
    sealed = _sealed(os.urandom(2 * SEGMENT + 10))
    cut = sealed[: HEADER_SIZE + 2 * (SEGMENT + 16)]
    with pytest.raises(SealBroken, match="changed or cut short"):
        _opened(cut)


def test_an_archive_never_closed_does_not_open() -> None:
    out = io.BytesIO()
    writer = SealedWriter(out, KEY)
    writer.write(os.urandom(2 * SEGMENT + 10))  # the last segments are never sealed
    with pytest.raises(SealBroken):
        _opened(out.getvalue())


def test_a_changed_byte_or_swapped_segments_do_not_open() -> None:
    sealed = bytearray(_sealed(os.urandom(3 * SEGMENT)))
    changed = bytearray(sealed)
    changed[HEADER_SIZE + SEGMENT + 100] ^= 1
    with pytest.raises(SealBroken):
        _opened(bytes(changed))
    first = slice(HEADER_SIZE, HEADER_SIZE + SEGMENT + 16)
    second = slice(HEADER_SIZE + SEGMENT + 16, HEADER_SIZE + 2 * (SEGMENT + 16))
    swapped = bytearray(sealed)
    swapped[first], swapped[second] = sealed[second], sealed[first]
    with pytest.raises(SealBroken):
        _opened(bytes(swapped))


def test_a_file_that_is_no_sealed_archive_is_refused() -> None:
    with pytest.raises(SealBroken, match="not an export archive"):
        _opened(b"\x1f\x8b plain gzip")
