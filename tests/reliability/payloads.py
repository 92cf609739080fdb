"""Image and text payloads for bad-input tests, each built here from bytes (nothing fetched)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

from PIL import Image


def png_bytes(width: int = 8, height: int = 8, seed: int = 0) -> bytes:
    image = Image.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, 128))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 64, height: int = 64) -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    gradient.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def declared_png(width: int, height: int) -> bytes:
    """A valid-looking PNG (a few hundred bytes) whose header declares width x height RGB.

    Its IDAT holds one compressed row only: a decoder that trusted the header would allocate
    width * height * 3 bytes before noticing (the decompression bomb shape).
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * min(width * 3, 1 << 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row, 9))
        + _chunk(b"IEND", b"")
    )
