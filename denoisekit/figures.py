"""Figures people would rather look at than read: side-by-side crops, curves, spectra."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size``×``size`` part of ``image`` (all of it along a shorter side)."""
    top = max(0, (image.shape[0] - size) // 2)
    left = max(0, (image.shape[1] - size) // 2)
    return image[top : top + size, left : left + size]


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], path: str | Path, columns: int = 4) -> Path:
    """Save images (``(H, W, C)`` in [0, 1]) in a grid, each titled, as a PNG."""
    rows = -(-len(panels) // columns)
    columns = min(columns, len(panels))
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (title, image) in zip(axes.flat, panels, strict=False):
        image = np.clip(image, 0, 1)
        if image.shape[2] == 1:
            axis.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            axis.imshow(image, interpolation="nearest")
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=60)  # ~1 figure pixel per image pixel: small files, no resampling blur
    plt.close(figure)
    # Matplotlib writes RGBA; the alpha plane is constant, so dropping it shrinks the file by a third.
    Image.open(path).convert("RGB").save(path, optimize=True)
    return Path(path)
