"""ZIP archives written as a stream: each member sent (or written) once it is written.

The sink lets ``zipfile`` seek back into the member being written (never further), so every
local header carries the member's CRC and sizes: no data descriptors, which streaming unzip
tools cannot handle for members stored without compression.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator

# Members already compressed by their own format: deflating a PDF again saves ~1% of its size
# for most of the CPU time of a bulk ZIP, so they are stored as they are.
STORED_SUFFIXES = (".pdf",)


class _Sink:
    """A write-only file object that hands out what was written since the last drain.

    It can seek back, but only into what has not been drained yet.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = 0  # offset in the stream of the buffer's first byte
        self._position = 0

    def write(self, data) -> int:
        size = len(data) if isinstance(data, bytes | bytearray) else memoryview(data).nbytes
        offset = self._position - self._start
        self._buffer[offset : offset + size] = data
        self._position += size
        return size

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or not self._start <= position <= self._start + len(self._buffer):
            raise io.UnsupportedOperation("can only seek within the part not sent yet")
        self._position = position
        return position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._start += len(self._buffer)
        self._position = self._start
        self._buffer.clear()
        return data


def _compression(name: str) -> int:
    return zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED


def stream_zip(members: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """Yield the bytes of a ZIP holding ``members`` (name, content), one member at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content, compress_type=_compression(name))
            chunk = sink.drain()
            if chunk:
                yield chunk
    chunk = sink.drain()
    if chunk:
        yield chunk


def write_zip(out, members: Iterable[tuple[str, bytes]], *, progress: Callable[[int], None] | None = None) -> None:
    """Write a ZIP into the binary file ``out``; ``progress(n)`` is called once n members are written.

    ``out`` is a temporary file of the worker (``invoices.services``), saved into the storage after.
    """

    def counted():
        for number, member in enumerate(members, start=1):
            yield member
            if progress is not None:
                progress(number)

    for chunk in stream_zip(counted()):
        out.write(chunk)
