"""The packets of a subunit v2 stream, found at C speed, garbage dropped.

python-subunit reads the bytes between packets (a runner's stray output) one
at a time: 16 MB of non-subunit bytes cost it ~90 s, so a mislabelled or
hostile ``*.subunit`` file would stall an analysis for hours. This finds each
packet (testing-cabal/subunit ``python/subunit/v2.py``: signature ``0xB3``, 16
bits of flags whose top nibble is the version 2, a 1-3 byte length that
counts the whole packet, a CRC-32 at its end) with ``bytes.find`` and a CRC
check, and hands python-subunit only those. A packet cut by the end of the
stream is passed on, so python-subunit still reports the stream as cut.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import IO

from recheck.jobjson import Buffer

SIGNATURE = b"\xb3"
#: Bytes of packets passed on at most (real tempest streams are tens of MB).
MAX_PACKET_BYTES = 512 * 1024 * 1024
#: Packets passed on at most: python-subunit spends 50-200 µs on each (nova's ~18,000
#: unit tests make ~55,000).
MAX_PACKETS = 200_000
#: Bytes read at a time.
CHUNK = 1024 * 1024
#: Candidate signatures that fail the checks before the data is declared not subunit.
MAX_REJECTED = 10_000


class Packets:
    """Iterate the packets of a binary stream; afterwards ``skipped``/``stopped`` say what
    was dropped. Reads ``CHUNK`` bytes at a time: memory stays at a few MB."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        #: Bytes that were not part of any packet.
        self.skipped = 0
        #: Why the stream was not read to its end, if it was not.
        self.stopped: str | None = None
        #: Packets passed on.
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        buf = b""
        eof = False
        passed = 0
        rejected = 0

        def fill(need: int) -> bytes:
            nonlocal buf, eof
            while len(buf) < need and not eof:
                more = self._stream.read(max(CHUNK, need - len(buf)))
                if not more:
                    eof = True
                buf += more
            return buf

        while True:
            if not fill(1):
                return
            at = buf.find(SIGNATURE)
            if at < 0:
                self.skipped += len(buf)
                buf = b""
                continue
            self.skipped += at
            buf = buf[at:]
            length = _packet_length(fill(6), 0)
            if length is not None and len(fill(length)) < length:
                yield buf  # cut short by the end of the stream: python-subunit says so
                return
            if length is None or not _crc_ok(buf, 0, length):
                rejected += 1
                if rejected > MAX_REJECTED:
                    self.stopped = "no subunit v2 packets where they should be: not read further"
                    return
                self.skipped += 1
                buf = buf[1:]
                continue
            passed += length
            if passed > MAX_PACKET_BYTES or self.count >= MAX_PACKETS:
                self.stopped = (
                    f"more than {MAX_PACKET_BYTES >> 20} MiB or {MAX_PACKETS:,} packets of results: not read further"
                )
                return
            if self.stopped is not None:
                return
            self.count += 1
            packet, buf = buf[:length], buf[length:]
            yield packet


def _packet_length(data: Buffer, at: int) -> int | None:
    header = bytes(data[at + 1 : at + 6])
    if len(header) < 3:
        return None
    flags = (header[0] << 8) | header[1]
    if flags & 0xF000 != 0x2000:
        return None
    kind, first = header[2] & 0xC0, header[2] & 0x3F
    if kind == 0x00:
        length = first
    elif kind == 0x40 and len(header) >= 4:
        length = (first << 8) | header[3]
    elif kind == 0x80 and len(header) >= 5:
        length = (first << 16) | (header[3] << 8) | header[4]
    else:
        return None
    # Signature, flags, the length itself and the CRC: anything shorter is not a packet.
    return length if length >= 8 else None


def _crc_ok(data: Buffer, at: int, length: int) -> bool:
    body = data[at : at + length - 4]
    stored: int = struct.unpack(">I", data[at + length - 4 : at + length])[0]
    return zlib.crc32(body) & 0xFFFFFFFF == stored


class PacketStream(io.RawIOBase):
    """A readable binary stream of the packets (what python-subunit reads)."""

    def __init__(self, packets: Packets) -> None:
        super().__init__()
        self._it = iter(packets)
        self._current = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._offset >= len(self._current):
            try:
                self._current, self._offset = next(self._it), 0
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._current) - self._offset)
        buffer[:count] = self._current[self._offset : self._offset + count]
        self._offset += count
        return count
