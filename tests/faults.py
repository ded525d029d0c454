"""Faults injected by the tests (a helper module, not a test file)."""

import struct
import zipfile
from pathlib import Path


def corrupt_middle(path: Path) -> None:
    """Flip 8 bytes in the middle of the largest tensor stored in a checkpoint (a zip whose
    entries are stored uncompressed): ``torch.load`` itself does not notice."""
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    head = info.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[head + 26:head + 30])
    mid = head + 30 + name_len + extra_len + info.file_size // 2
    raw[mid:mid + 8] = bytes(b ^ 0x55 for b in raw[mid:mid + 8])
    path.write_bytes(bytes(raw))
