"""Reading and writing image files: round trips, carried metadata and clear refusals."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from denoisekit import io
from denoisekit.errors import InputError
from denoisekit.io import ImageInfo, image_format_for, read_image, write_image

ICC = b"not a real ICC profile, but carried byte for byte"


def samples(height: int, width: int, planes: int, depth: int, seed: int = 0) -> np.ndarray:
    """Random integer samples ``(H, W, planes)`` covering the full range of ``depth`` bits."""
    dtype = np.uint16 if depth == 16 else np.uint8
    return np.random.default_rng(seed).integers(0, 2**depth, (height, width, planes), dtype=dtype)


def refused(path, *fragments: str, **kwargs) -> str:
    """Assert ``read_image(path)`` raises InputError naming the path and each fragment."""
    with pytest.raises(InputError) as caught:
        read_image(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".tif", "TIFF")])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("planes", [1, 2, 3, 4])
def test_lossless_round_trip_keeps_samples_and_alpha(tmp_path, suffix, fmt, depth, planes):
    stored = samples(9, 7, planes, depth)
    colour = 1 if planes <= 2 else 3
    alpha = stored[:, :, colour] if planes in (2, 4) else None
    image = stored[:, :, :colour].astype(np.float32) / (2**depth - 1)
    path = write_image(tmp_path / f"x{suffix}", image, ImageInfo("PNG", depth, colour, alpha, None))

    back, info = read_image(path)
    assert back.dtype == np.float32 and back.shape == (9, 7, colour)
    assert (info.format, info.bit_depth, info.channels) == (fmt, depth, colour)
    np.testing.assert_array_equal(np.rint(back * (2**depth - 1)), stored[:, :, :colour])
    if alpha is None:
        assert info.alpha is None
    else:  # alpha comes back exactly as stored
        assert info.alpha.dtype == alpha.dtype
        np.testing.assert_array_equal(info.alpha, alpha)


def test_16_bit_rgb_png_keeps_full_precision(tmp_path):
    stored = samples(6, 5, 3, 16, seed=1)
    assert (stored % 257 != 0).any()  # values an 8-bit detour would lose
    path = write_image(tmp_path / "deep.png", stored.astype(np.float32) / 65535, bit_depth=16)
    back, info = read_image(path)
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.rint(back * 65535).astype(np.uint16), stored)


@pytest.mark.parametrize("depth", [8, 16])
def test_icc_profile_carried_through_png(tmp_path, depth):
    info = ImageInfo("PNG", depth, 3, None, ICC)
    path = write_image(tmp_path / "icc.png", samples(4, 4, 3, 8) / 255.0, info)
    assert read_image(path)[1].icc_profile == ICC
    with Image.open(path) as im:  # another reader finds it too
        assert im.info["icc_profile"] == ICC


def test_icc_profile_carried_through_tiff_and_jpeg(tmp_path):
    info = ImageInfo("TIFF", 8, 3, None, ICC)
    for name in ("icc.tif", "icc.jpg"):
        path = write_image(tmp_path / name, samples(4, 4, 3, 8) / 255.0, info)
        assert read_image(path)[1].icc_profile == ICC


def test_jpeg_round_trip_is_close(tmp_path, color):
    alpha = samples(48, 56, 1, 16)[:, :, 0]  # JPEG has no alpha and no 16 bits: both are dropped
    path = write_image(tmp_path / "x.jpeg", color, ImageInfo("PNG", 16, 3, alpha, None))
    back, info = read_image(path)
    assert (info.format, info.bit_depth, info.channels, info.alpha) == ("JPEG", 8, 3, None)
    assert np.abs(back - color).mean() < 0.01


def test_bmp_round_trip(tmp_path, color, gray):
    for name, image in (("c.bmp", color), ("g.bmp", gray)):
        back, info = read_image(write_image(tmp_path / name, image))
        assert info.format == "BMP" and back.shape == image.shape
        np.testing.assert_allclose(back, image, atol=0.5 / 255)


def test_palette_png_becomes_rgba(tmp_path):
    palette = [0, 0, 0, 255, 0, 0, 0, 128, 255] + [0] * 759
    im = Image.frombytes("P", (3, 2), bytes([0, 1, 2, 2, 1, 0]))
    im.putpalette(palette)
    im.save(tmp_path / "p.png", transparency=bytes([255, 100, 0]))
    image, info = read_image(tmp_path / "p.png")
    assert (info.channels, info.bit_depth) == (3, 8)
    np.testing.assert_array_equal(image[0, 1] * 255, [255, 0, 0])
    np.testing.assert_array_equal(info.alpha, [[255, 100, 0], [0, 100, 255]])


def test_one_bit_png_and_planar_tiff(tmp_path):
    Image.fromarray(np.array([[True, False]])).convert("1").save(tmp_path / "bits.png")
    image, info = read_image(tmp_path / "bits.png")
    assert (info.bit_depth, info.channels) == (8, 1)
    np.testing.assert_array_equal(image[:, :, 0], [[1.0, 0.0]])

    stored = samples(5, 4, 3, 16)
    planar = np.moveaxis(stored, -1, 0)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    image, info = read_image(tmp_path / "planar.tif")
    np.testing.assert_array_equal(np.rint(image * 65535), stored)


def test_tiffs_tifffile_cannot_decode_go_through_pillow(tmp_path):
    rgb, deep = samples(5, 4, 3, 8), samples(5, 4, 1, 16)[:, :, 0]
    Image.fromarray(rgb).save(tmp_path / "lzw.tif", compression="tiff_lzw")  # LZW needs imagecodecs
    Image.fromarray(deep).save(tmp_path / "lzw16.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(np.rint(read_image(tmp_path / "lzw.tif")[0] * 255), rgb)
    image, info = read_image(tmp_path / "lzw16.tif")
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image[:, :, 0] * 65535), deep)


def test_bilevel_white_is_zero_tiff(tmp_path):
    tifffile.imwrite(tmp_path / "fax.tif", np.array([[True, False]]), photometric="miniswhite")
    image, info = read_image(tmp_path / "fax.tif")
    assert (info.bit_depth, info.channels) == (8, 1)
    np.testing.assert_array_equal(image[:, :, 0], [[0.0, 1.0]])


def test_cmyk_jpeg_becomes_rgb_and_exif_orientation_is_ignored(tmp_path):
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    image, _ = read_image(tmp_path / "cmyk.jpg")
    assert image.shape == (4, 6, 3) and image[..., 0].mean() > 0.9 and image[..., 1].mean() < 0.1

    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90°": applying it would swap height and width
    Image.new("RGB", (6, 4)).save(tmp_path / "turned.jpg", exif=exif)
    assert read_image(tmp_path / "turned.jpg")[0].shape == (4, 6, 3)


def test_format_is_detected_by_content(tmp_path, gray):
    write_image(tmp_path / "real.png", gray)
    (tmp_path / "real.png").rename(tmp_path / "liar.jpg")
    image, info = read_image(tmp_path / "liar.jpg")
    assert info.format == "PNG"
    np.testing.assert_allclose(image, gray, atol=0.5 / 255)


def test_write_rounds_clips_and_converts_alpha_depth(tmp_path):
    image = np.array([[100.6 / 255, -0.1, 1.05]], dtype=np.float32)
    alpha16 = np.array([[65535, 257 * 7 + 200, 0]], dtype=np.uint16)
    path = write_image(tmp_path / "r.png", image, ImageInfo("PNG", 16, 1, alpha16, None), bit_depth=8)
    back, info = read_image(path)
    np.testing.assert_array_equal(np.rint(back[:, :, 0] * 255), [[101, 0, 255]])
    np.testing.assert_array_equal(info.alpha, [[255, 8, 0]])


def test_image_format_for_extensions():
    found = [image_format_for(f"a{suffix}") for suffix in (".PNG", ".jpeg", ".tif", ".bmp")]
    assert found == ["PNG", "JPEG", "TIFF", "BMP"]
    with pytest.raises(InputError, match=r"out\.webp: unknown output extension"):
        image_format_for("out.webp")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.png", b"", "empty"),
        ("notes.png", b"just some text\n", "not an image"),
        ("fake.bmp", b"BM but then no header", "cannot decode BMP"),
    ],
)
def test_refuses_non_images(tmp_path, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    refused(tmp_path / name, fragment)


def test_refuses_missing_file_and_folder(tmp_path):
    refused(tmp_path / "nowhere.png", "not found")
    refused(tmp_path, "folder")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_refuses_truncated_files(tmp_path, suffix, color):
    path = write_image(tmp_path / f"whole{suffix}", color)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    refused(path, "corrupt or truncated")


def test_refuses_16_bit_png_with_bad_data(tmp_path):
    path = write_image(tmp_path / "deep.png", samples(8, 8, 3, 16) / 65535.0, bit_depth=16)
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
    path.write_bytes(bytes(data))
    refused(path, "corrupt or truncated")


def test_refuses_decompression_bombs(tmp_path, gray):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # 10^10 RGB pixels claimed
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b""))
    refused(bomb, "too large")

    for name in ("small.png", "small.tif", "small.jpg"):
        path = write_image(tmp_path / name, gray)
        refused(path, "64x64", "over the limit of 1,000", max_pixels=1000)


def test_refuses_unusual_tiffs(tmp_path):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.zeros((3, 4, 4), np.uint8), photometric="minisblack")
    refused(stack, "3 pages")
    floats = tmp_path / "float.tif"
    tifffile.imwrite(floats, np.zeros((4, 4), np.float32))
    refused(floats, "32-bit ieeefp")
    five = tmp_path / "five.tif"
    tifffile.imwrite(
        five, np.zeros((4, 4, 5), np.uint8), photometric="rgb", planarconfig="contig", extrasamples=["unspecified"] * 2
    )
    refused(five, "5 samples per pixel")


def test_write_refuses_to_overwrite_without_permission(tmp_path, gray, color):
    path = write_image(tmp_path / "keep.png", gray)
    before = path.read_bytes()
    with pytest.raises(InputError, match="pass --overwrite") as caught:
        write_image(path, color)
    assert str(path) in str(caught.value) and path.read_bytes() == before
    write_image(path, color, overwrite=True)
    assert read_image(path)[0].shape == color.shape


def test_write_refusals_leave_nothing_behind(tmp_path, gray, monkeypatch):
    missing = tmp_path / "no" / "such" / "folder" / "x.png"
    with pytest.raises(InputError, match="does not exist") as caught:
        write_image(missing, gray)
    assert str(missing) in str(caught.value)
    with pytest.raises(InputError, match=r"x\.gif: unknown output extension"):
        write_image(tmp_path / "x.gif", gray)
    with pytest.raises(InputError, match="cannot be written with 16-bit"):
        write_image(tmp_path / "x.jpg", gray, bit_depth=16)

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "_encode", broken)
    with pytest.raises(InputError, match="No space left"):
        write_image(tmp_path / "full.png", gray)
    assert list(tmp_path.iterdir()) == []  # not even the temporary file


@pytest.mark.parametrize(("fmt", "suffix", "depth"), [("PNG", "png", 16), ("TIFF", "tif", 16), ("JPEG", "jpg", 8)])
def test_bytes_match_files_both_ways(tmp_path, color, fmt, suffix, depth):
    alpha = samples(*color.shape[:2], 1, depth)[:, :, 0] if fmt != "JPEG" else None
    info = ImageInfo(fmt, depth, 3, alpha, ICC)
    path = write_image(tmp_path / f"a.{suffix}", color, info)
    assert io.encode_image(color, info) == path.read_bytes()
    from_bytes, info_bytes = io.decode_image(path.read_bytes())
    np.testing.assert_array_equal(from_bytes, read_image(path)[0])
    assert (info_bytes.format, info_bytes.bit_depth, info_bytes.icc_profile) == (fmt, depth, ICC)
    if alpha is not None:
        np.testing.assert_array_equal(info_bytes.alpha, alpha)


def test_decode_refusals_name_the_upload(gray):
    with pytest.raises(InputError, match=r"^upload: file is empty$"):
        io.decode_image(b"", name="upload")
    with pytest.raises(InputError, match=r"^upload: not an image file"):
        io.decode_image(b"GIF89a...", name="upload")
    data = io.encode_image(gray)
    with pytest.raises(io.ImageTooLarge, match=r"^image: image is 64x64 = 4,096 pixels, over the limit of 100"):
        io.decode_image(data, max_pixels=100)
    with pytest.raises(InputError, match="unknown image format 'GIF'"):
        io.encode_image(gray, format="gif")
