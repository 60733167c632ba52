"""Process large images tile by tile and blend the tiles back without seams.

Overlapping tiles are weighted by a window that ramps up over the overlap, and the result is
the weighted mean of all tiles covering a pixel, so no tile edge is visible as long as a
quarter of the overlap covers the method's reach.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from denoisekit.errors import Cancelled, InputError
from denoisekit.registry import Progress


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: a fixed stride, the last tile flush with the edge."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def _ramp(size: int, overlap: int, rise: bool, fall: bool) -> np.ndarray:
    """1-D weights of a tile: rising over its first ``overlap`` samples where a neighbour shares
    them, falling over the last. The outer quarter of a shared edge gets almost no weight, since
    a filter sees past the tile there and is least right."""
    weight = np.ones(size, dtype=np.float32)
    if overlap > 0:
        margin = overlap // 4
        ramp = np.clip((np.arange(overlap) - margin + 0.5) / max(overlap - 2 * margin, 1), 1e-3, 1)
        n = min(overlap, size)
        if rise:
            weight[:n] = ramp[:n]
        if fall:
            weight[-n:] = np.minimum(weight[-n:], ramp[:n][::-1])
    return weight


def tiled(
    function: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: int,
    overlap: int = 32,
    progress: Progress | None = None,
) -> np.ndarray:
    """Apply ``function`` to overlapping ``tile``×``tile`` pieces of ``image`` and blend them.

    Parameters
    ----------
    function : callable
        Maps an ``(h, w, C)`` array to an array of the same shape.
    image : ndarray
        ``(H, W, C)`` image.
    tile : int
        Side of a tile in pixels.
    overlap : int
        Pixels shared by neighbouring tiles; must be smaller than half the tile.
    progress : callable, optional
        ``progress(done, total, {})`` after each tile; returning False stops the work.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.rand(100, 70, 1).astype(np.float32)
    >>> np.allclose(tiled(lambda x: x * 2, image, tile=32, overlap=8), image * 2)
    True
    """
    if tile < 8:
        raise InputError(f"tile={tile} is too small: use at least 8 pixels")
    if not 0 <= overlap < tile / 2:
        raise InputError(f"overlap={overlap} must be at least 0 and less than half the tile ({tile})")
    height, width = image.shape[:2]
    rows, cols = _starts(height, tile, overlap), _starts(width, tile, overlap)
    total = len(rows) * len(cols)
    result = np.zeros(image.shape, dtype=np.float64)
    weights = np.zeros((*image.shape[:2], 1), dtype=np.float64)
    done = 0
    for top in rows:
        for left in cols:
            piece = image[top : top + tile, left : left + tile]
            window = np.outer(
                _ramp(piece.shape[0], overlap, top > 0, top + tile < height),
                _ramp(piece.shape[1], overlap, left > 0, left + tile < width),
            )[:, :, None]
            result[top : top + tile, left : left + tile] += function(piece) * window
            weights[top : top + tile, left : left + tile] += window
            done += 1
            if progress is not None and progress(done, total, {}) is False:
                raise Cancelled("stopped by the progress callback")
    return (result / weights).astype(np.float32)


def available_memory() -> int:
    """Bytes of memory free for new work (MemAvailable on Linux, total physical elsewhere)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
