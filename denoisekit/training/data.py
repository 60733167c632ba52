"""Training data: images held in memory and random patch batches drawn from them.

Images stay in their stored integer type (8 or 16 bits) until a patch is cut, so a few hundred
photographs fit in memory. Every batch is drawn from a generator seeded by ``(seed, step)``:
a resumed run sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoisekit import io
from denoisekit.api import expand_inputs
from denoisekit.errors import InputError


@dataclass
class ImageSet:
    """Images of one channel count, as integer arrays ``(H, W, C)`` with their full-scale value."""

    images: list[np.ndarray]
    names: list[str]
    scale: float

    @property
    def channels(self) -> int:
        return self.images[0].shape[2]

    def as_float(self, index: int) -> np.ndarray:
        return self.images[index].astype(np.float32) / self.scale

    def split(self, count: int) -> tuple[ImageSet, ImageSet]:
        """The first ``len - count`` images, and the last ``count`` (held out for validation)."""
        if not 0 < count < len(self.images):
            raise InputError(
                f"cannot hold out {count} of {len(self.images)} images for validation; "
                "pass --val-split 0 (no validation) or --val DIR"
            )
        cut = len(self.images) - count
        return (
            ImageSet(self.images[:cut], self.names[:cut], self.scale),
            ImageSet(self.images[cut:], self.names[cut:], self.scale),
        )


def _stored(image: np.ndarray, bit_depth: int) -> np.ndarray:
    scale = 65535 if bit_depth > 8 else 255
    return np.round(image * scale).astype(np.uint16 if bit_depth > 8 else np.uint8)


def load_images(source: str | os.PathLike, min_size: int = 1) -> ImageSet:
    """A folder of images, one image file, or an MNIST idx file (``.idx3-ubyte[.gz]``).

    Every image must have the same channel count and be at least ``min_size`` on each side;
    a mixed folder is refused with the offending file named.
    """
    source = Path(source)
    if source.is_file() and "idx" in source.name:
        return load_mnist(source)
    files = expand_inputs([source])  # the same files, and refusals, as `denoisekit denoise` takes
    images, depths = [], []
    for path in files:
        image, info = io.read_image(path)
        if images and image.shape[2] != images[0].shape[2]:
            raise InputError(f"{path}: has {image.shape[2]} channel(s), but {files[0].name} has {images[0].shape[2]}")
        if min(image.shape[:2]) < min_size:
            raise InputError(f"{path}: {image.shape[1]}×{image.shape[0]} is smaller than the {min_size}-pixel patches")
        images.append(image)
        depths.append(info.bit_depth)
    depth = max(depths)
    return ImageSet([_stored(im, depth) for im in images], [p.name for p in files], 65535.0 if depth > 8 else 255.0)


def load_mnist(path: str | os.PathLike) -> ImageSet:
    """MNIST's idx3 image file (optionally gzipped) as 28×28 gray images."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise InputError(f"{path}: cannot read MNIST file ({error})") from None
    if len(data) < 16 or int.from_bytes(data[:4], "big") != 2051:
        raise InputError(f"{path}: not an MNIST idx3 image file (magic 2051)")
    count, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
    if len(data) != 16 + count * rows * cols:
        raise InputError(f"{path}: truncated MNIST file ({len(data)} bytes for {count} images)")
    pixels = np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols, 1)
    return ImageSet(list(pixels), [f"{i:05d}" for i in range(count)], 255.0)


def pair_images(noisy: ImageSet, clean: ImageSet) -> None:
    """Check that two sets hold the same names with the same shapes (noisy/clean or N2N pairs)."""
    if noisy.names != clean.names:
        missing = sorted(set(noisy.names) ^ set(clean.names))
        raise InputError(f"paired folders must hold the same file names; unmatched: {', '.join(missing[:5])}")
    for name, a, b in zip(noisy.names, noisy.images, clean.images, strict=True):
        if a.shape != b.shape:
            raise InputError(f"{name}: paired images differ in size ({a.shape} vs {b.shape})")


def pairs_by_pattern(shots: ImageSet, pattern: str) -> tuple[ImageSet, ImageSet]:
    """Noise2Noise pairs inside one set: files whose names (without suffix) fully match
    ``pattern`` and agree on its first group show the same scene; every two shots of a scene
    make a pair. ``(.+)_\\d+`` pairs ``cell_1.tif`` with ``cell_2.tif``."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise InputError(f"--pair-pattern {pattern!r} is not a regular expression ({error})") from None
    if regex.groups < 1:
        raise InputError(f"--pair-pattern {pattern!r} needs a group naming the scene, as in (.+)_\\d+")
    scenes: dict[str, list[int]] = {}
    for index, name in enumerate(shots.names):
        match = regex.fullmatch(Path(name).stem)
        if match is None:
            raise InputError(f"{name}: does not match --pair-pattern {pattern!r}")
        scenes.setdefault(match.group(1), []).append(index)
    single = next((scene for scene, members in scenes.items() if len(members) < 2), None)
    if single is not None:
        raise InputError(f"scene {single!r} has one shot; Noise2Noise needs at least two of each scene")
    pairs = [pair for members in scenes.values() for pair in itertools.combinations(members, 2)]
    for i, j in pairs:
        if shots.images[i].shape != shots.images[j].shape:
            raise InputError(f"{shots.names[i]} and {shots.names[j]}: shots of one scene differ in size")
    first = ImageSet([shots.images[i] for i, _ in pairs], [shots.names[i] for i, _ in pairs], shots.scale)
    second = ImageSet([shots.images[j] for _, j in pairs], [shots.names[j] for _, j in pairs], shots.scale)
    return first, second


def _dihedral(patch: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations of a square patch ``(p, p, C)``."""
    patch = np.rot90(patch, k % 4, axes=(0, 1))
    return patch[:, ::-1] if k >= 4 else patch


class PatchSampler:
    """Random square patches from one or more aligned image sets, with flips and 90° rotations.

    ``sample(rng)`` returns one float32 array ``(B, C, p, p)`` per set (the same crops and
    transforms in each, so noisy/clean pairs stay aligned).
    """

    def __init__(self, sets: list[ImageSet], patch_size: int, batch_size: int, augment: bool = True) -> None:
        smallest = min(min(im.shape[:2]) for im in sets[0].images)
        if patch_size > smallest:
            raise InputError(f"patch size {patch_size} is larger than the smallest training image ({smallest} px)")
        self.sets, self.patch_size, self.batch_size, self.augment = sets, patch_size, batch_size, augment

    def sample(self, rng: np.random.Generator) -> list[np.ndarray]:
        p = self.patch_size
        batches = [np.empty((self.batch_size, s.channels, p, p), np.float32) for s in self.sets]
        for b in range(self.batch_size):
            index = int(rng.integers(len(self.sets[0].images)))
            height, width = self.sets[0].images[index].shape[:2]
            top, left = int(rng.integers(height - p + 1)), int(rng.integers(width - p + 1))
            k = int(rng.integers(8)) if self.augment else 0
            for out, image_set in zip(batches, self.sets, strict=True):
                patch = image_set.images[index][top : top + p, left : left + p]
                out[b] = _dihedral(patch, k).transpose(2, 0, 1) / image_set.scale
        return batches
