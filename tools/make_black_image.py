"""Writes TestData/black/black-28x28.png: a genuinely all-black 28x28 grayscale PNG (like a Fashion-MNIST image
with every pixel 0), for the tests that check black images train and score. Standard library only."""
import os
import struct
import zlib

SIZE = 28


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "Microsoft.ML.ResNet.Tests", "TestData", "black", "black-28x28.png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = b"".join(b"\x00" + bytes(SIZE) for _ in range(SIZE))  # filter byte 0, then black pixels
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    with open(target, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
