"""JPEG 2000 codestream surgery for the fast-fading emulation: tile-parts, packets, decoding.

Private helpers of :mod:`ddriqa.degradations.fastfading` (which re-exports
:func:`parse_tile_parts`): split a codestream into tile-parts and packets (PLT markers), replace
packets by empty ones, reassemble, and decode without ever raising.
"""

from __future__ import annotations

import numpy as np

from ddriqa.degradations.compression import decode_jpeg2000
from ddriqa.errors import InputError

__all__ = ["parse_tile_parts"]


def _try_decode(data, shape):
    try:
        out = decode_jpeg2000(data, shape)
    except Exception:  # any decoder failure (OSError, ValueError, MemoryError, ...) counts as a failure
        return None
    return out if out.shape == tuple(shape) and out.dtype == np.uint8 else None


def _read_plt(segment):
    """Packet lengths coded in the Iplt fields of a PLT marker segment body."""
    lengths, value = [], 0
    for byte in segment:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            lengths.append(value)
            value = 0
    return lengths


def parse_tile_parts(data):
    """Split a JPEG 2000 codestream into its tile-parts.

    Returns
    -------
    main_header : bytes
        Everything before the first SOT marker.
    parts : list of dict
        One per tile-part: ``sot`` (the 12-byte SOT segment), ``markers`` (the other tile-part
        header segments, PLT removed), ``data`` (the packet data after SOD), ``packets`` (packet
        lengths from the PLT markers, or ``None`` when the stream has none), ``offset`` (byte offset
        of the packet data in ``data``).

    Raises
    ------
    InputError
        On a stream whose tile-part structure cannot be followed.
    """
    import struct

    data = bytes(data)
    pos = data.find(b"\xff\x90")
    if pos < 0:
        raise InputError("parse_tile_parts: no SOT marker (FF 90) in the JPEG 2000 codestream")
    main, parts = data[:pos], []
    while data[pos : pos + 2] == b"\xff\x90":
        if pos + 12 > len(data):
            raise InputError("parse_tile_parts: truncated SOT marker segment")
        psot = struct.unpack(">I", data[pos + 6 : pos + 10])[0]
        end = pos + psot if psot else len(data) - 2
        q, markers, packets = pos + 12, [], []
        has_plt = False
        while data[q : q + 2] != b"\xff\x93":
            if q + 4 > end:
                raise InputError("parse_tile_parts: no SOD marker in a tile-part header")
            length = struct.unpack(">H", data[q + 2 : q + 4])[0]
            if data[q : q + 2] == b"\xff\x58":  # PLT: Zplt (1 byte) then Iplt values
                has_plt = True
                packets.extend(_read_plt(data[q + 5 : q + 2 + length]))
            else:
                markers.append(data[q : q + 2 + length])
            q += 2 + length
        body = data[q + 2 : end]
        if not has_plt or sum(packets) != len(body):
            packets = None
        parts.append(
            {"sot": data[pos : pos + 12], "markers": b"".join(markers), "data": body, "packets": packets, "offset": q + 2}
        )
        if end <= pos:
            raise InputError("parse_tile_parts: a tile-part length (Psot) does not advance")
        pos = end
    return main, parts


def _rebuild(main, parts, bodies):
    """Reassemble a codestream from tile-parts with new packet data (Psot updated, PLT dropped)."""
    import struct

    out = [main]
    for part, body in zip(parts, bodies):
        sot = bytearray(part["sot"])
        sot[6:10] = struct.pack(">I", len(sot) + len(part["markers"]) + 2 + len(body))
        out.append(bytes(sot) + part["markers"] + b"\xff\x93" + body)
    out.append(b"\xff\xd9")
    return b"".join(out)


def _discard_from(part, first_bad_byte):
    """Packet data of a tile-part keeping the packets before the one holding ``first_bad_byte``;
    every later packet becomes an empty packet (a single zero byte: "no code-block included")."""
    bounds = np.concatenate([[0], np.cumsum(part["packets"])])
    k = int(np.searchsorted(bounds, first_bad_byte, side="right")) - 1
    k = min(max(k, 0), len(part["packets"]))
    return part["data"][: bounds[k]] + b"\x00" * (len(part["packets"]) - k), len(part["packets"]) - k
