"""Read and write image files as the project's boundary type, keeping what denoising must not lose.

Images come back as float32 ``(H, W, C)`` arrays in [0, 1] (``C`` in {1, 3}) plus an
:class:`ImageInfo` holding what the pixels alone cannot: the file's bit depth, its alpha
plane (carried through untouched, never denoised) and its ICC profile. Formats are
recognised by content, never by extension. Pillow decodes most files; 16-bit colour PNGs go
through pypng (Pillow would cut them to 8 bits) and TIFFs through tifffile.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png
import tifffile
from PIL import Image
from tifffile import PHOTOMETRIC, SAMPLEFORMAT

from denoisekit.errors import ImageTooLarge, InputError
from denoisekit.validation import check_image

DEFAULT_MAX_PIXELS: int = 200_000_000

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"II*\0", "TIFF"),
    (b"MM\0*", "TIFF"),
    (b"II+\0", "TIFF"),
    (b"MM\0+", "TIFF"),  # classic and BigTIFF
)
_EXTENSIONS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
# PNG and TIFF store 16-bit samples and alpha; JPEG and BMP (as Pillow writes them) do neither.
_DEEP_FORMATS = ("PNG", "TIFF")
# Pillow modes we turn into gray/RGB(A); None: RGBA if the palette has transparency, else RGB.
_CONVERT = {"1": "L", "P": None, "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}
_KEEP = ("L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B")
_TIFF_COLOURS = {PHOTOMETRIC.MINISBLACK: 1, PHOTOMETRIC.MINISWHITE: 1, PHOTOMETRIC.RGB: 3}


@dataclass
class ImageInfo:
    """What :func:`write_image` needs to give the output the input's form.

    Attributes
    ----------
    format : str
        ``"PNG"``, ``"JPEG"``, ``"TIFF"`` or ``"BMP"``: the format found in the file's content.
    bit_depth : int
        8 or 16, per channel, as stored in the file.
    channels : int
        1 (gray) or 3 (RGB): the colour channels, not counting alpha.
    alpha : numpy.ndarray or None
        The alpha plane exactly as stored (uint8 or uint16, shape ``(H, W)``).
    icc_profile : bytes or None
        The embedded ICC colour profile.
    """

    format: str
    bit_depth: int
    channels: int
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None


def image_format_for(path: str | os.PathLike) -> str:
    """Return the format an output file gets from its extension, or raise :class:`InputError`.

    Examples
    --------
    >>> image_format_for("out/photo.JPG")
    'JPEG'
    """
    fmt = _EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown output extension; use one of {', '.join(_EXTENSIONS)}")
    return fmt


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Read a PNG, JPEG, TIFF or BMP file as float32 ``(H, W, C)`` in [0, 1].

    Palette images become RGB (RGBA with transparency), 1-bit images 8-bit gray, CMYK and
    YCbCr JPEGs RGB. EXIF orientation is ignored so pixels stay aligned with the file.

    Parameters
    ----------
    path : str or os.PathLike
        The image file; its format is recognised by content, not extension.
    max_pixels : int
        Refuse images whose header claims more pixels (decompression-bomb guard).

    Returns
    -------
    image : numpy.ndarray
        float32 ``(H, W, 1)`` or ``(H, W, 3)``; 8-bit samples divided by 255, 16-bit by 65535.
    info : ImageInfo
        Bit depth, alpha plane and ICC profile, for :func:`write_image`.

    Raises
    ------
    InputError
        Missing, empty, unreadable, corrupt, truncated, too large or unsupported file.

    Examples
    --------
    >>> image, info = read_image("photo.png")
    >>> image.shape, info.bit_depth
    ((480, 640, 3), 16)
    """
    path = Path(path)
    return _decode(path, _read_head(path), str(path), max_pixels)


def decode_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image"
) -> tuple[np.ndarray, ImageInfo]:
    """Decode the bytes of an image file (an upload, say) exactly as :func:`read_image` reads a file.

    Parameters
    ----------
    data : bytes
        The file's content; its format is recognised from it.
    max_pixels : int
        Refuse images whose header claims more pixels (decompression-bomb guard).
    name : str
        What error messages call the image.

    Returns
    -------
    image : numpy.ndarray
        float32 ``(H, W, 1)`` or ``(H, W, 3)`` in [0, 1].
    info : ImageInfo
        Format, bit depth, alpha plane and ICC profile, for :func:`encode_image`.

    Raises
    ------
    InputError
        Empty, unreadable, corrupt, truncated, too large (:class:`ImageTooLarge`) or unsupported.
    """
    if not data:
        raise InputError(f"{name}: file is empty")
    return _decode(bytes(data), bytes(data[:32]), name, max_pixels)


def _decode(source: Path | bytes, head: bytes, label: str, max_pixels: int) -> tuple[np.ndarray, ImageInfo]:
    """Samples of a file or of its bytes, as :func:`read_image` returns them; ``label`` names it in errors."""
    fmt = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if fmt is None:
        raise InputError(f"{label}: not an image file (expected PNG, JPEG, TIFF or BMP content)")
    try:
        if fmt == "TIFF":
            samples, icc = _read_tiff(source, label, max_pixels)
        else:
            samples, icc = _read_pillow(source, label, fmt, max_pixels, head)
    except (InputError, MemoryError):
        raise
    except Exception as exc:  # decoders raise many types for broken files; all mean the same to the user
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{label}: cannot decode {fmt} file, corrupt or truncated ({detail})") from exc
    depth = 16 if samples.dtype == np.uint16 else 8
    colour = 1 if samples.shape[2] <= 2 else 3
    alpha = samples[:, :, colour].copy() if samples.shape[2] > colour else None
    image = samples[:, :, :colour].astype(np.float32) / np.float32(2**depth - 1)
    return image, ImageInfo(fmt, depth, colour, alpha, icc or None)


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    info: ImageInfo | None = None,
    *,
    overwrite: bool = False,
    bit_depth: int | None = None,
) -> Path:
    """Write ``image`` atomically in the format its extension names.

    Values are clipped to [0, 1] and rounded. The bit depth is ``bit_depth``, else
    ``info.bit_depth`` where the format allows it (PNG, TIFF), else 8. ``info.alpha`` is
    reattached when the format stores alpha (PNG, TIFF) and its shape matches; the ICC profile
    is kept by PNG, JPEG and TIFF. JPEGs are written at quality 95 without chroma subsampling.

    Parameters
    ----------
    path : str or os.PathLike
        Output file: ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff`` or ``.bmp``.
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, float in [0, 1] (or uint8/uint16).
    info : ImageInfo, optional
        From :func:`read_image`: bit depth, alpha and ICC profile to carry through.
    overwrite : bool
        Replace an existing file; refused otherwise.
    bit_depth : int, optional
        8 or 16 (PNG and TIFF only).

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> image, info = read_image("photo.png")
    >>> write_image("clean.png", image, info, overwrite=True).name
    'clean.png'
    """
    path = Path(path)
    fmt = image_format_for(path)
    data = _samples(image, info, fmt, bit_depth, str(path))
    if path.exists() and not overwrite:
        raise InputError(f"{path}: output exists; pass --overwrite to replace it")
    icc = info.icc_profile if info is not None else None
    # A hidden temporary name in the same folder makes os.replace atomic; open(..., "x") also
    # gives it the usual umask permissions, which tempfile.mkstemp would not.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            with open(temporary, "xb") as file:
                _encode(file, data, fmt, icc)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()  # a failed write leaves nothing behind
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if not path.parent.is_dir():
            reason = f"folder {path.parent} does not exist"
        raise InputError(f"{path}: cannot write: {reason}") from exc
    return path


def encode_image(
    image: np.ndarray, info: ImageInfo | None = None, *, format: str | None = None, bit_depth: int | None = None
) -> bytes:
    """The bytes of the file :func:`write_image` would write, without touching the file system.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, float in [0, 1] (or uint8/uint16).
    info : ImageInfo, optional
        From :func:`read_image` or :func:`decode_image`: format, bit depth, alpha and ICC profile.
    format : str, optional
        ``"PNG"``, ``"JPEG"``, ``"TIFF"`` or ``"BMP"``; default ``info.format``, else PNG.
    bit_depth : int, optional
        8 or 16 (PNG and TIFF only); default as :func:`write_image` chooses.

    Returns
    -------
    bytes
        The encoded file.

    Examples
    --------
    >>> image, info = read_image("scan.tif")
    >>> encode_image(image, info)[:4]
    b'II*\\x00'
    """
    fmt = (format or (info.format if info is not None else "PNG")).upper()
    if fmt not in _EXTENSIONS.values():
        raise InputError(f"unknown image format {fmt!r}; use one of {', '.join(sorted(set(_EXTENSIONS.values())))}")
    data = _samples(image, info, fmt, bit_depth, "image")
    buffer = io.BytesIO()
    _encode(buffer, data, fmt, info.icc_profile if info is not None else None)
    return buffer.getvalue()


def _samples(image: np.ndarray, info: ImageInfo | None, fmt: str, bit_depth: int | None, label: str) -> np.ndarray:
    """Integer samples ``(H, W, S)`` to encode as ``fmt``, alpha reattached where the format keeps it."""
    if bit_depth is None:
        bit_depth = info.bit_depth if info is not None and fmt in _DEEP_FORMATS else 8
    if bit_depth not in ((8, 16) if fmt in _DEEP_FORMATS else (8,)):
        raise InputError(f"{label}: {fmt} files cannot be written with {bit_depth}-bit samples")
    pixels = check_image(image)
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    data = np.rint(np.clip(pixels, 0.0, 1.0) * (2**bit_depth - 1)).astype(dtype)
    alpha = _alpha_for(info, data.shape[:2], dtype) if fmt in _DEEP_FORMATS else None
    return data if alpha is None else np.dstack([data, alpha])


def _open(source: Path | bytes) -> BinaryIO:
    """A binary file object over a file or over bytes already in memory."""
    return open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)


def _read_head(path: Path) -> bytes:
    """The first bytes of ``path``, after the checks that give the clearest messages."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    try:
        with open(path, "rb") as file:
            head = file.read(32)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if not head:
        raise InputError(f"{path}: file is empty")
    return head


def _check_pixels(label: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{label}: image is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (raise max_pixels only if you trust this file)"
        )


def _read_pillow(
    source: Path | bytes, label: str, fmt: str, max_pixels: int, head: bytes
) -> tuple[np.ndarray, bytes | None]:
    """Samples ``(H, W, S)`` (uint8 or uint16) and ICC profile of a file Pillow can decode."""
    with _open(source) as file:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # max_pixels rules instead
                im = Image.open(file, formats=[fmt])  # reads the header only
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(f"{label}: image is too large to decode safely ({exc})") from None
        with im:
            _check_pixels(label, im.width, im.height, max_pixels)
            # A CMYK profile would mislabel the RGB pixels we make from it.
            icc = None if im.mode == "CMYK" else im.info.get("icc_profile")
            if fmt == "PNG" and head[24] == 16 and head[25] != 0:  # IHDR: 16-bit, not plain gray
                file.seek(0)
                width, height, flat, meta = png.Reader(file=file).read_flat()
                return np.frombuffer(flat, np.uint16).reshape(height, width, meta["planes"]), icc
            im.load()  # decode everything now, so a truncated file fails here
            if im.mode in _CONVERT:
                im = im.convert(_CONVERT[im.mode] or ("RGBA" if "transparency" in im.info else "RGB"))
            if im.mode not in _KEEP:
                raise InputError(f"{label}: unsupported {fmt} pixel mode {im.mode}")
            dtype = np.uint16 if im.mode.startswith("I;16") else np.uint8  # I;16B is big-endian
            return np.asarray(im).astype(dtype, copy=False).reshape(im.height, im.width, -1), icc


def _read_tiff(source: Path | bytes, label: str, max_pixels: int) -> tuple[np.ndarray, bytes | None]:
    """Samples ``(H, W, S)`` and ICC profile of a single-image gray/RGB(A) 1/8/16-bit TIFF."""
    with _open(source) as file, tifffile.TiffFile(file) as tif:
        if len(tif.pages) > 1:
            raise InputError(f"{label}: TIFF has {len(tif.pages)} pages; only single images are supported")
        page = tif.pages[0]
        _check_pixels(label, page.imagewidth, page.imagelength, max_pixels)
        depth, samples = page.bitspersample, page.samplesperpixel
        if page.sampleformat != SAMPLEFORMAT.UINT or depth not in (1, 8, 16):
            raise InputError(
                f"{label}: TIFF samples are {depth}-bit {SAMPLEFORMAT(page.sampleformat).name.lower()}; "
                "only 8- or 16-bit unsigned integers are supported"
            )
        colour = _TIFF_COLOURS.get(page.photometric)
        if colour is None:
            name = PHOTOMETRIC(page.photometric).name
            raise InputError(f"{label}: TIFF colour space {name} is not supported; use gray or RGB")
        if samples - colour not in (0, 1) or page.axes not in ("YX", "YXS", "SYX"):
            raise InputError(
                f"{label}: TIFF has {samples} samples per pixel (axes {page.axes}); "
                "expected gray, gray+alpha, RGB or RGBA"
            )
        icc = page.tags.valueof(34675)  # InterColorProfile
        if page.compression not in tifffile.TIFF.DECOMPRESSORS:
            # LZW, PackBits, JPEG... need imagecodecs; Pillow decodes them, but only 16-bit gray at 16 bits.
            if depth == 16 and samples > 1:
                raise InputError(
                    f"{label}: 16-bit {page.compression.name} TIFF needs the imagecodecs package "
                    "(pip install imagecodecs)"
                )
            return _read_pillow(source, label, "TIFF", max_pixels, b"")
        data = page.asarray()
    if page.axes == "SYX":  # planar: one plane per sample
        data = np.moveaxis(data, 0, -1)
    data = data.reshape(page.imagelength, page.imagewidth, samples)
    if depth == 1:
        data = data.astype(np.uint8) * np.uint8(255)
    if page.photometric == PHOTOMETRIC.MINISWHITE:
        data[:, :, 0] = np.iinfo(data.dtype).max - data[:, :, 0]
    return data, None if icc is None else bytes(icc)


def _alpha_for(info: ImageInfo | None, shape: tuple[int, ...], dtype: type) -> np.ndarray | None:
    """``info.alpha`` at the output's bit depth, or None when there is none or it does not fit."""
    if info is None or info.alpha is None or info.alpha.shape != shape:
        return None
    alpha = info.alpha
    if alpha.dtype == np.uint16 and dtype == np.uint8:
        return np.rint(alpha / 257.0).astype(np.uint8)
    if alpha.dtype == np.uint8 and dtype == np.uint16:
        return alpha.astype(np.uint16) * np.uint16(257)
    return alpha


def _encode(file: BinaryIO, data: np.ndarray, fmt: str, icc: bytes | None) -> None:
    """Write samples ``(H, W, S)`` (S = 1..4, last one alpha when even or 4) to ``file``."""
    height, width, planes = data.shape
    pixels = data[:, :, 0] if planes == 1 else data
    if fmt == "TIFF":
        tifffile.imwrite(
            file,
            pixels,
            photometric="rgb" if planes >= 3 else "minisblack",
            planarconfig="contig" if planes > 1 else None,
            iccprofile=icc,
            metadata=None,
            extrasamples=["unassalpha"] if planes in (2, 4) else None,
        )  # uncompressed: LZW would need imagecodecs, and every reader takes it
    elif data.dtype == np.uint16:  # 16-bit PNG: pypng, as Pillow cannot write 16-bit colour
        writer = png.Writer(width, height, greyscale=planes <= 2, alpha=planes in (2, 4), bitdepth=16)
        encoded = io.BytesIO()
        writer.write_packed(encoded, (row.tobytes() for row in data.astype(">u2").reshape(height, -1)))
        encoded = encoded.getvalue()
        file.write(encoded[:33])  # signature and IHDR; pypng cannot write iCCP, which must follow
        if icc:
            png.write_chunk(file, b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))
        file.write(encoded[33:])
    else:
        options = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
        Image.fromarray(pixels).save(file, format=fmt, icc_profile=icc, **options)
