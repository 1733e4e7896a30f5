"""LIVE-style "fast fading" distortion: a JPEG 2000 stream sent over a Rayleigh fading channel.

LIVE (Sheikh et al. 2006) encoded each image with JPEG 2000 at about 2.5 bpp with error resilience,
transmitted the bitstream over a simulated wireless channel with Rayleigh fast fading at a receiver
SNR of 15.5 to 26.1 dB, and decoded it with an error-resilient decoder. This module reproduces the
process with the tools available in Python (Pillow / OpenJPEG):

1. **Encoding** -- :func:`~ddriqa.degradations.compression.encode_jpeg2000` at ``bpp`` (2.5) with
   ``layers`` (6) quality layers (rates ``bpp / 2**k``, LRCP order: coarse data first), tiles of
   about ``tile`` (128 x 128, adjusted to split the image evenly) and PLT (packet length) markers.
2. **Channel** -- BPSK over a flat Rayleigh fading channel. The complex fading gain ``h`` is a
   Jakes/Clarke sum-of-sinusoids process (16 paths with random arrival angles and phases, maximum
   Doppler ``doppler`` cycles per bit, unit mean power). Bit ``i`` is in error with probability
   ``Q(sqrt(2 * snr * |h_i|**2))``; averaged over the fading this is exactly
   ``0.5 * (1 - sqrt(snr / (1 + snr)))`` (:func:`rayleigh_bpsk_ber`), the mean BER of BPSK over
   Rayleigh fading, but the errors come in bursts during deep fades.
3. **Where errors fall** -- only on the packet data: the main header and the tile-part headers
   (SOT ... SOD, a few dozen bytes per tile) are assumed to be sent protected. The error pattern
   covers the packet data of all tiles in stream order.
4. **Error-resilient decoding** -- LIVE decoded with error resilience: Kakadu's SOP/EPH markers and
   code-block termination let the decoder find the corrupted part of the stream and discard it,
   so the damage stays local and keeps the data received before the error. Pillow can write
   neither SOP/EPH markers nor those code-block modes, and OpenJPEG decodes flipped bits into
   garbage, so the detection is emulated. Two emulations:

   ``decoder="codeblock"`` (opt-in) works at the granularity of Kakadu's: an untiled stream
   with ``layers`` quality layers in LRCP order, whose packet lengths are known from the PLT
   markers. Each packet's first bytes are taken as its header (:data:`~ddriqa.degradations._codeblock._HEADER_BYTES` per
   code-block it includes) and the rest is split among its code-blocks in proportion to how many
   of their coefficients the layer changes. An error in a packet header loses that layer and all
   later ones for every code-block of the packet (a whole resolution of one component: global
   blur); an error in a code-block's data loses them for that code-block only (a local patch of
   blur and ringing, 64 coefficients wide at its resolution). The image is rebuilt from the
   subband coefficients of decodes at 1 .. ``layers`` layers (CDF 9/7 wavelet and colour
   transform, :mod:`ddriqa.degradations._wavelet`; both are linear, so a code-block at ``k``
   layers is that of the ``k``-layer decode). The lowest resolution (the LL band, a few hundred
   bytes at the start of each layer) is assumed sent protected, like the main header.

   ``decoder="resilient"`` (the default, and what ``ddriqa degrade --preset live`` uses) is the
   coarser, packet-level emulation: in tiles
   of about 128 x 128, the packet that holds a tile's first bit error and all later packets of
   that tile are replaced by empty packets and the stream is decoded with OpenJPEG. It leaves
   sharp tile edges and flat grey or single-colour tiles where a tile lost its first layer,
   which LIVE's fast-fading images never show. Yet a classifier trained on it reads real LIVE
   fast fading better than one trained on the code-block emulation, whose images look like
   JPEG 2000 at a lower rate and are called ``jp2k`` (measured in
   ``benchmarks/results/identification_real.md``); so it stays the default.
   ``decoder="raw"`` flips the bits instead and lets OpenJPEG decode whatever it can.
5. **Never crash, never hang** -- any decoder exception, or a decode of the wrong size, counts as a
   failure and a new error pattern is drawn from the same generator (up to ``max_tries``). If all
   fail, every tile is reduced to its first quality layer (``info["fallback"] = "first-layer"``),
   and if even that fails, the clean image is coded at the first layer's rate (``"low-rate"``).

Choices of the packet-level emulation (``decoder="resilient"``), measured with ``python
benchmarks/degradations_check.py --data ../shared/data/kodak24 --images 6 --seeds 3`` (Pillow 13,
OpenJPEG 2.5.4; results in ``benchmarks/results/degradations.md``):

* Raw bit flips (``decoder="raw"``) give colour garbage (median PSNR 13.5 to 17 dB at 19 to 26.1 dB
  SNR) and, with tiles, decoding fails often (every one of 18 transmissions at 15.5 dB needed the
  fallback); single-tile raw streams (measured during development) were as bad. LIVE's FF images
  look nothing like that. Cutting a tile-part in the middle of a packet also made OpenJPEG refuse
  the stream, whereas replacing whole packets by empty packets never failed to decode.
* With the packet-level emulation no fallback was needed, and on Kodak images (clean 2.5 bpp
  decode: median 40.2 dB PSNR) the median PSNR goes 24.2 / 28.5 / 30.6 / 33.0 dB at 15.5 / 19 /
  22.5 / 26.1 dB SNR. Its Doppler default, 5e-5 cycles per bit (bursts of about a kilobyte), was
  chosen from a sweep (2e-4, 5e-5, 2e-5).

The code-block emulation's Doppler, 2e-4 cycles per bit, was chosen from a sweep (1e-5, 5e-5,
2e-4) on the 19 Kodak references that the shipped models train on (one image each, SNR uniform in
LIVE's range): PSNR percentiles 5 / 25 / 50 / 75 / 95 of 22.9 / 25.2 / 26.8 / 29.1 / 34.6 dB at
2e-4, against 24.4 / 26.5 / 29.4 / 32.6 / 39.4 at 5e-5 and 23.1 / 30.4 / 34.3 / 37.3 / 41.4 at 1e-5;
the real LIVE fast-fading images of ``../shared/data/live_real_dev`` (8 images, 2 references) lie
at 17.7 - 30.4 dB, median 27.8 (quartiles 22.7 / 29.2). Slower fading leaves most code-blocks
untouched and many images near the clean 2.5 bpp decode (38 - 40 dB), which LIVE's images are
not. About 1.2 s per 768 x 512 image on one core (six layer decodes, seven wavelet transforms).
"""

from __future__ import annotations

import numpy as np

from ddriqa.degradations._checks import check_positive, check_rng, check_uint8_image
from ddriqa.degradations._codeblock import codeblock_fading
from ddriqa.degradations._codestream import _discard_from, _rebuild, _try_decode, parse_tile_parts
from ddriqa.degradations.compression import encode_jpeg2000
from ddriqa.errors import InputError

__all__ = [
    "fast_fading",
    "rayleigh_bpsk_ber",
    "rayleigh_fading_gain",
    "fading_bit_errors",
    "corrupt_codestream",
    "payload_start",
    "parse_tile_parts",
]

LIVE_FF_BPP = 2.5
DEFAULT_LAYERS = 6
DEFAULT_TILE = (128, 128)
DEFAULT_DOPPLER = 5e-5
#: the Doppler of the code-block emulation (see the module docstring)
CODEBLOCK_DOPPLER = 2e-4


def rayleigh_bpsk_ber(snr_db):
    """Mean bit error rate of coherent BPSK over flat Rayleigh fading: ``0.5 (1 - sqrt(g / (1 + g)))``.

    Parameters
    ----------
    snr_db : float or array_like
        Mean receiver SNR per bit in dB (``g = 10 ** (snr_db / 10)``).

    Examples
    --------
    >>> from ddriqa.degradations.fastfading import rayleigh_bpsk_ber
    >>> round(float(rayleigh_bpsk_ber(20.0)), 6)
    0.002481
    """
    g = 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    return 0.5 * (1.0 - np.sqrt(g / (1.0 + g)))


def rayleigh_fading_gain(n, rng, doppler=DEFAULT_DOPPLER, n_paths=16, step=32):
    """Complex Rayleigh fading gains of ``n`` consecutive bits (Jakes/Clarke sum of sinusoids).

    ``h[i] = (sum_m exp(j (2 pi doppler i cos(a_m) + p_m))) / sqrt(n_paths)`` with random arrival
    angles ``a_m`` and phases ``p_m``; ``E|h|^2 = 1``. The process is evaluated every ``step`` bits
    and held in between (the coherence time, about ``0.4 / doppler`` bits, is much longer).

    Parameters
    ----------
    n : int
        Number of bits.
    rng : numpy.random.Generator
    doppler : float, default=5e-5
        Maximum Doppler frequency in cycles per bit (normalised Doppler ``f_d T_b``).
    n_paths : int, default=16
    step : int, default=32

    Returns
    -------
    numpy.ndarray of complex128, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.fastfading import rayleigh_fading_gain
    >>> h = rayleigh_fading_gain(1000, np.random.default_rng(0))
    >>> h.shape, h.dtype
    ((1000,), dtype('complex128'))
    """
    check_rng(rng, "rayleigh_fading_gain")
    n = int(n)
    if n < 0:
        raise InputError(f"rayleigh_fading_gain: n must be >= 0, got {n}")
    check_positive(doppler, "doppler", "rayleigh_fading_gain")
    angles = rng.uniform(0.0, 2.0 * np.pi, size=int(n_paths))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=int(n_paths))
    t0 = rng.uniform(0.0, 1e6)  # a random start time: independent realisations
    m = -(-n // step) if n else 0
    t = t0 + np.arange(m, dtype=np.float64) * step
    arg = 2.0 * np.pi * doppler * t[:, None] * np.cos(angles)[None, :] + phases[None, :]
    coarse = np.exp(1j * arg).sum(axis=1) / np.sqrt(n_paths)
    return np.repeat(coarse, step)[:n]


def fading_bit_errors(n, snr_db, rng, doppler=DEFAULT_DOPPLER):
    """Boolean error pattern of ``n`` bits sent by BPSK over a Rayleigh fading channel.

    Each bit is in error with probability ``Q(sqrt(2 g |h|^2))`` (``g`` the mean SNR, ``h`` from
    :func:`rayleigh_fading_gain`), so errors cluster in deep fades; the expected error rate equals
    :func:`rayleigh_bpsk_ber`.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.fastfading import fading_bit_errors
    >>> fading_bit_errors(10_000, 20.0, np.random.default_rng(0)).dtype
    dtype('bool')
    """
    from scipy.special import erfc

    check_rng(rng, "fading_bit_errors")
    with np.errstate(over="ignore"):  # a huge SNR is an error-free channel (g = inf), not an OverflowError
        g = np.power(10.0, np.float64(snr_db) / 10.0)
    h = rayleigh_fading_gain(n, rng, doppler=doppler)
    p = 0.5 * erfc(np.sqrt(g * np.abs(h) ** 2))  # Q(sqrt(2x)) = erfc(sqrt(x)) / 2
    return rng.random(int(n)) < p


def payload_start(data):
    """Byte offset where the packet data of a JPEG 2000 codestream begin.

    That is the byte after the first SOD marker (``FF 93``) that follows the first SOT marker
    (``FF 90``, the end of the main header); bytes before it are the (protected) headers.

    Raises
    ------
    InputError
        When the stream has no SOT or SOD marker.

    Examples
    --------
    >>> from ddriqa.degradations.fastfading import payload_start
    >>> payload_start(b"\\xff\\x4f\\xff\\x51..\\xff\\x90" + bytes(10) + b"\\xff\\x93abc")
    20
    """
    data = bytes(data)
    sot = data.find(b"\xff\x90")
    if sot < 0:
        raise InputError("payload_start: no SOT marker (FF 90) in the JPEG 2000 codestream")
    sod = data.find(b"\xff\x93", sot + 2)
    if sod < 0:
        raise InputError("payload_start: no SOD marker (FF 93) after the first SOT marker")
    return sod + 2


def corrupt_codestream(data, errors, start):
    """Flip the bits of ``data[start:]`` where the boolean array ``errors`` is true.

    ``errors`` holds one flag per bit of ``data[start:]`` (most significant bit first).
    Returns the corrupted stream as bytes.
    """
    arr = np.frombuffer(bytes(data), dtype=np.uint8).copy()
    tail = arr[start:]
    errors = np.asarray(errors, dtype=bool)
    if errors.size != tail.size * 8:
        raise InputError(f"corrupt_codestream: expected {tail.size * 8} error flags, got {errors.size}")
    arr[start:] = tail ^ np.packbits(errors)
    return arr.tobytes()


def _balanced_tiles(shape, tile):
    """Tile size near ``tile`` that splits the image into equal tiles (no sliver at the border)."""
    out = []
    for n, t in zip(shape[:2], tile):
        count = max(1, int(round(n / float(t))))
        out.append(int(-(-n // count)))
    return tuple(out)


def fast_fading(
    image,
    snr_db,
    rng,
    *,
    bpp=LIVE_FF_BPP,
    layers=DEFAULT_LAYERS,
    tile="auto",
    doppler=None,
    decoder="resilient",
    max_tries=10,
    return_info=False,
):
    """Simulate LIVE's fast-fading distortion at a receiver SNR (see the module docstring).

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    snr_db : float
        Mean receiver SNR in dB (LIVE: 15.5 to 26.1; lower is worse).
    rng : numpy.random.Generator
        Source of the fading process and the error patterns.
    bpp : float, default=2.5
        JPEG 2000 bit rate of the transmitted stream.
    layers : int, default=6
        Quality layers of the stream.
    tile : (int, int), None or "auto", default="auto"
        Approximate JPEG 2000 tile size (adjusted so that the tiles split the image evenly);
        ``None`` for a single tile; ``"auto"``: a single tile for ``decoder="codeblock"`` (which
        needs one), 128 x 128 for the packet-level decoders.
    doppler : float or None, default=None
        Normalised maximum Doppler frequency (cycles per bit); smaller means longer bursts.
        None: 2e-4 (:data:`CODEBLOCK_DOPPLER`) for ``decoder="codeblock"``, 5e-5
        (:data:`DEFAULT_DOPPLER`) for the packet-level decoders.
    decoder : {"resilient", "codeblock", "raw"}, default="resilient"
        ``"codeblock"`` emulates an error-resilient decoder at code-block granularity on an
        untiled stream, as Kakadu's resilient decoding behaves (see the module docstring): each
        code-block hit by an error keeps the quality layers it received before it.
        ``"resilient"`` is the coarser packet-level emulation: within each tile, the packet hit by
        the first bit error and all later packets are discarded. ``"raw"`` flips the bits in the
        stream and lets OpenJPEG decode whatever it can (often catastrophic, see module notes).
    max_tries : int, default=10
        Error patterns tried before the fallback when decoding fails.
    return_info : bool, default=False
        Also return a dict: ``tries``, ``bit_errors``, ``payload_bits``, ``damaged_tiles``,
        ``tiles``, ``discarded_packets``, ``packets``, ``decoder``, ``fallback`` (``None`` or
        ``"first-layer"`` / ``"low-rate"``).

    Returns
    -------
    numpy.ndarray, uint8, same shape (and the dict when ``return_info``)

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.fastfading import fast_fading
    >>> img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> fast_fading(img, 18.0, np.random.default_rng(1)).shape
    (64, 64, 3)
    """
    img = check_uint8_image(image, "fast_fading")
    try:
        snr = float(snr_db)
    except (TypeError, ValueError):
        raise InputError(f"fast_fading: snr_db must be a number, got {snr_db!r}") from None
    if not np.isfinite(snr):
        raise InputError(f"fast_fading: snr_db must be finite, got {snr_db!r}")
    check_rng(rng, "fast_fading")
    if decoder not in ("codeblock", "resilient", "raw"):
        raise InputError(f"fast_fading: decoder must be 'codeblock', 'resilient' or 'raw', got {decoder!r}")
    if isinstance(max_tries, bool) or int(max_tries) < 1:
        raise InputError(f"fast_fading: max_tries must be >= 1, got {max_tries!r}")

    if doppler is None:
        doppler = CODEBLOCK_DOPPLER if decoder == "codeblock" else DEFAULT_DOPPLER
    if isinstance(tile, str):
        if tile != "auto":
            raise InputError(f"fast_fading: tile must be (rows, cols), None or 'auto', got {tile!r}")
        tile = None if decoder == "codeblock" else DEFAULT_TILE
    if decoder == "codeblock" and tile is not None:
        raise InputError("fast_fading: decoder='codeblock' works on an untiled stream: pass tile=None or 'auto'")
    tile_size = None if tile is None else _balanced_tiles(img.shape, tile)
    data = encode_jpeg2000(img, bpp, resilience=True, layers=layers, tile_size=tile_size)
    main, parts = parse_tile_parts(data)
    if decoder == "codeblock":
        done = codeblock_fading(main, parts[0], img.shape, int(layers),
                                 lambda n: fading_bit_errors(n, snr, rng, doppler=doppler)) if len(parts) == 1 else None
        if done is not None:
            out, extra = done
            info = {"tries": 1, "tiles": 1, "decoder": "codeblock", "fallback": None, **extra}
            return (out, info) if return_info else out
        decoder = "resilient"  # no PLT markers or an unexpected packet layout: the packet-level emulation
    if decoder == "resilient" and any(p["packets"] is None for p in parts):
        decoder = "raw"  # no PLT markers (old Pillow): packet boundaries unknown
    offsets = np.cumsum([0] + [len(p["data"]) for p in parts])
    nbits = int(offsets[-1]) * 8
    info = {
        "tries": 0,
        "bit_errors": 0,
        "payload_bits": nbits,
        "tiles": len(parts),
        "damaged_tiles": 0,
        "packets": sum(len(p["packets"] or []) for p in parts),
        "discarded_packets": 0,
        "decoder": decoder,
        "fallback": None,
    }
    for attempt in range(int(max_tries)):
        errors = fading_bit_errors(nbits, snr, rng, doppler=doppler)
        info["tries"] = attempt + 1
        info["bit_errors"] = int(errors.sum())
        bodies, damaged, discarded = [], 0, 0
        for part, lo, hi in zip(parts, offsets[:-1], offsets[1:]):
            err = errors[lo * 8 : hi * 8]
            if not err.any():
                bodies.append(part["data"])
                continue
            damaged += 1
            if decoder == "raw":
                flipped = np.frombuffer(part["data"], dtype=np.uint8) ^ np.packbits(err)
                bodies.append(flipped.tobytes())
            else:
                body, lost = _discard_from(part, int(np.argmax(err)) // 8)
                bodies.append(body)
                discarded += lost
        info["damaged_tiles"], info["discarded_packets"] = damaged, discarded
        out = _try_decode(_rebuild(main, parts, bodies), img.shape)
        if out is not None:
            return (out, info) if return_info else out

    # Fallback: every tile reduced to its first quality layer (LRCP: the first 1/layers of its
    # packets); if even that fails, a clean decode at the first layer's rate.
    out = None
    if all(p["packets"] for p in parts):
        bodies = []
        for part in parts:
            keep = max(1, len(part["packets"]) // int(layers))
            bodies.append(_discard_from(part, int(np.sum(part["packets"][:keep])))[0])
        out = _try_decode(_rebuild(main, parts, bodies), img.shape)
        info["fallback"] = "first-layer"
    if out is None:
        info["fallback"] = "low-rate"
        out = _try_decode(encode_jpeg2000(img, bpp / 2.0 ** (int(layers) - 1)), img.shape)
        if out is None:  # pragma: no cover - a clean OpenJPEG stream always decodes
            raise RuntimeError("fast_fading: a clean JPEG 2000 stream failed to decode")
    return (out, info) if return_info else out
