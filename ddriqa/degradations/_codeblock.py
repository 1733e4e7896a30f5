"""Code-block-level error resilience for the fast-fading emulation (see :mod:`~.fastfading`).

A private helper of :mod:`ddriqa.degradations.fastfading`: :func:`codeblock_fading` rebuilds an
image from decodes of one untiled stream at 1 .. L quality layers, each code-block kept at the
number of layers it received before a bit error reached it.
"""

from __future__ import annotations

import numpy as np

from ddriqa.degradations._codestream import _discard_from, _rebuild, _try_decode
from ddriqa.degradations._wavelet import dwt97, idwt97

__all__ = ["codeblock_fading"]

#: ITU-R BT.601 luma/chroma rows: the irreversible colour transform (ICT) of JPEG 2000
_ICT = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
#: side of an OpenJPEG code-block (its default, 64 x 64 coefficients)
_CODEBLOCK = 64
#: packet-header bytes per code-block a packet includes (inclusion and zero-bit-plane tag trees,
#: number of coding passes, length: about 2 to 3 bytes in a JPEG 2000 packet header)
_HEADER_BYTES = 2.5


def _layer_decodes(main, part, n_layers, n_per_layer, shape):
    """Decodes of the stream keeping its first 1 .. n_layers quality layers (LRCP: whole packets)."""
    bounds = np.concatenate([[0], np.cumsum(part["packets"])])
    out = []
    for k in range(1, n_layers + 1):
        body, _ = _discard_from(part, int(bounds[k * n_per_layer]))
        img = _try_decode(_rebuild(main, [part], [body]), shape)
        if img is None:
            return None
        out.append(img)
    return out


def _components(img):
    """Level-shifted components (H, W, C) of a decoded image: Y, Cb, Cr for colour (the ICT)."""
    x = img.astype(np.float64) - 128.0
    return x[..., None] if x.ndim == 2 else x @ _ICT.T


def _blocks(shape):
    """Code-block slices of a subband of ``shape``: a list of (row slice, column slice)."""
    return [(slice(r, r + _CODEBLOCK), slice(c, c + _CODEBLOCK))
            for r in range(0, shape[0], _CODEBLOCK) for c in range(0, shape[1], _CODEBLOCK)]


def codeblock_fading(main, part, shape, n_layers, errors_of, protect_lowest=True):
    """Emulate an error-resilient decoder at code-block granularity on a single-tile stream.

    The stream's packets are in LRCP order (layer, resolution, component); a packet of layer
    ``q`` carries the layer-``q`` contribution of every code-block of its resolution and
    component. Each packet's length is known (PLT); its first bytes are its header and the rest
    is split among its code-blocks in proportion to how many of their coefficients the layer
    changes (a stand-in for their coded bits). A bit error in a packet's header loses the layer
    and every later one for all of that packet's code-blocks; an error in a code-block's data
    loses them for that code-block: it keeps the layers received before (a resilient decoder
    detects the error at the end of the codeword segment and discards what follows, and the
    later layers refine what was discarded). The image is rebuilt from the subband coefficients
    of decodes at 1 .. ``n_layers`` layers (the wavelet and colour transforms are linear, so a
    code-block's coefficients at ``k`` layers are those of the ``k``-layer decode), each
    code-block taken from the decode of the layers it kept (none: zero).

    ``errors_of(nbits)`` draws the bit errors of the packet data. The lowest resolution (the
    LL band, a few hundred bytes at the start of each layer) is assumed sent protected, like the
    headers, when ``protect_lowest``: losing it would blank the whole image, which LIVE's
    fast-fading images never show.

    Returns (image, info) or None when the stream does not have the expected packet layout.
    """
    packets = part["packets"]
    n_comp = 1 if len(shape) == 2 else 3
    if not packets or len(packets) % (n_layers * n_comp):
        return None
    n_res = len(packets) // (n_layers * n_comp)
    decodes = _layer_decodes(main, part, n_layers, n_res * n_comp, shape)
    if decodes is None:
        return None
    coefs = [dwt97(_components(d), n_res - 1) for d in decodes]  # [layers][resolution] bands (H, W, C)
    if len(coefs[0]) != n_res:
        return None
    # subbands of each resolution: (resolution, band index, array shape)
    bands = [(0, 0)] + [(r, b) for r in range(1, n_res) for b in range(3)]

    def band(k, r, b):
        return coefs[k][0] if r == 0 else coefs[k][r][b]

    blocks = {(r, b): _blocks(band(0, r, b).shape[:2]) for r, b in bands}
    kept = {(r, b): np.full((len(blocks[r, b]), n_comp), n_layers, dtype=np.int64) for r, b in bands}
    errors = np.asarray(errors_of(int(sum(packets)) * 8), dtype=bool)
    bad_bytes = np.flatnonzero(np.packbits(errors)) if errors.any() else np.zeros(0, np.int64)
    start = 0
    for index, length in enumerate(packets):
        q, rest = divmod(index, n_res * n_comp)
        r, c = divmod(rest, n_comp)
        lo, hi = start, start + int(length)
        start = hi
        hits = bad_bytes[(bad_bytes >= lo) & (bad_bytes < hi)] - lo
        if hits.size == 0 or (r == 0 and protect_lowest):
            continue
        members = [(b, j, sl) for (rr, b) in bands if rr == r for j, sl in enumerate(blocks[rr, b])]
        weights = []
        for b, j, (rs, cs) in members:
            now = band(q, r, b)[rs, cs, c]
            before = band(q - 1, r, b)[rs, cs, c] if q else np.zeros_like(now)
            weights.append(float(np.count_nonzero(np.abs(now - before) > 1.5)))
        weights = np.asarray(weights)
        header = min(int(length), 1 + int(round(_HEADER_BYTES * np.count_nonzero(weights))))
        if hits.min() < header or not weights.any():
            lost = range(len(members))
        else:
            edges = header + np.concatenate([[0], np.cumsum(weights)]) / weights.sum() * (int(length) - header)
            lost = set(np.clip(np.searchsorted(edges, hits, side="right") - 1, 0, len(members) - 1).tolist())
        for m in lost:
            b, j, _ = members[m]
            kept[r, b][j, c] = min(kept[r, b][j, c], q)
    rebuilt = [coefs[n_layers - 1][0].copy()] + [tuple(x.copy() for x in lvl) for lvl in coefs[n_layers - 1][1:]]
    damaged = 0
    for r, b in bands:
        target = rebuilt[0] if r == 0 else rebuilt[r][b]
        for j, (rs, cs) in enumerate(blocks[r, b]):
            for c in range(n_comp):
                k = kept[r, b][j, c]
                if k < n_layers:
                    damaged += 1
                    target[rs, cs, c] = band(k - 1, r, b)[rs, cs, c] if k else 0.0
    comps = idwt97(rebuilt)
    rgb = comps[..., 0] if n_comp == 1 else comps @ np.linalg.inv(_ICT).T
    out = np.clip(np.rint(rgb + 128.0), 0, 255).astype(np.uint8)
    total = sum(len(v) for v in blocks.values()) * n_comp
    info = {"bit_errors": int(errors.sum()), "payload_bits": int(errors.size), "codeblocks": total,
            "damaged_codeblocks": damaged}
    return out, info
