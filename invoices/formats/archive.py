"""ZIP archives written as a stream: no temporary file, no seeking back.

``zipfile`` writes to an unseekable sink with data descriptors after each member, so
the bytes of a member can be sent as soon as it is written.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator


class _Sink:
    """A write-only file object that hands out what was written since the last drain."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream_zip(members: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """Yield the bytes of a ZIP holding ``members`` (name, content), one member at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
            chunk = sink.drain()
            if chunk:
                yield chunk
    chunk = sink.drain()
    if chunk:
        yield chunk


def write_zip(path, members: Iterable[tuple[str, bytes]], *, progress: Callable[[int], None] | None = None) -> None:
    """Write a ZIP file at ``path``; ``progress(n)`` is called once n members are written."""

    def counted():
        for number, member in enumerate(members, start=1):
            yield member
            if progress is not None:
                progress(number)

    with open(path, "wb") as out:
        for chunk in stream_zip(counted()):
            out.write(chunk)
