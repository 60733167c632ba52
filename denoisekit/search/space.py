"""The NAS-DIP search space: what a decoder may look like, as a plain JSON genotype.

A network (:mod:`denoisekit.search.network`) has ``depth`` encoder levels, each halving the
resolution, and as many decoder levels, each an *upsampling cell* that doubles it:

upsampling primitive (:data:`UPSAMPLES`)
    ``bilinear``, ``bicubic``, ``nearest``, ``pixel-shuffle`` (a 1×1 convolution to 4× the
    channels, then depth-to-space) or ``transposed-conv`` (a learned stride-2 transposed
    convolution).
feature transformation (:data:`TRANSFORMS`)
    ``conv``, ``transposed-conv`` (stride 1), ``additive`` (split-stack-sum: channel groups are
    summed, no weights), ``separable`` (depthwise, then 1×1), ``depthwise`` (then channel
    groups summed) or ``identity`` (a 1×1 projection only where the channel counts differ).
    The issue lists the transposed convolutions' strides the other way round; a stride-1
    transposed convolution cannot double the resolution, so, as in the NAS-DIP paper
    (Chen et al., ECCV 2020), the stride-2 one upsamples and the stride-1 one transforms.
kernel size (:data:`KERNELS`), dilation (:data:`DILATIONS`)
    Of the transformation's convolution (``additive`` and ``identity`` have none, and a 1×1
    kernel has no dilation: such decisions do not change the network, and
    :meth:`Genotype.canonical` drops them).
activation (:data:`ACTIVATIONS`)
    After the transformation and its batch norm.
cross-level connections
    For each decoder level, the encoder levels whose features (resampled to its scale and
    projected by a 1×1 convolution) are added to it.

A genotype has one cell shared by every level or one cell per level (finest first), and one
connection list per decoder level (finest first). Any genotype builds a valid network for
any image size: :func:`denoisekit.zeroshot.dip.fit` pads the network's input as needed.

Examples
--------
>>> genotype = Genotype.from_dict({"depth": 2, "cells": [{"upsample": "nearest", "transform": "conv",
...     "kernel": 3, "dilation": 1, "activation": "relu"}], "connections": [[0], []]})
>>> genotype.shared, genotype.cell(1).upsample
(True, 'nearest')
>>> Genotype.from_dict(genotype.to_dict()) == genotype
True
>>> len(decisions(depth=2, shared=True))  # one cell's 5 decisions, then 2 × 2 connections
9
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisekit.errors import InputError

UPSAMPLES = ("bilinear", "bicubic", "nearest", "pixel-shuffle", "transposed-conv")
TRANSFORMS = ("conv", "transposed-conv", "additive", "separable", "depthwise", "identity")
KERNELS = (1, 3, 5, 7)
DILATIONS = (1, 2, 3)
ACTIVATIONS = ("none", "relu", "leaky-relu")
#: Transformations without a convolution of their own: kernel and dilation do not apply.
WEIGHTLESS = ("additive", "identity")
#: The choices of each cell field, in the order the controller decides them.
CELL_CHOICES: dict[str, tuple] = {
    "upsample": UPSAMPLES,
    "transform": TRANSFORMS,
    "kernel": KERNELS,
    "dilation": DILATIONS,
    "activation": ACTIVATIONS,
}
MAX_DEPTH = 8
_KEYS = ("depth", "cells", "connections")
#: Free-form metadata a file may carry beside the genotype (the search writes its record there).
INFO_KEY = "info"


@dataclass(frozen=True)
class Cell:
    """One upsampling cell: upsample ×2, transform, batch norm, activation."""

    upsample: str = "bilinear"
    transform: str = "conv"
    kernel: int = 3
    dilation: int = 1
    activation: str = "leaky-relu"

    def describe(self) -> str:
        """Short text, e.g. ``bilinear→conv3x3/d1→leaky-relu``.

        Examples
        --------
        >>> Cell().describe()
        'bilinear→conv3x3/d1→leaky-relu'
        """
        shape = "" if self.transform in WEIGHTLESS else f"{self.kernel}x{self.kernel}/d{self.dilation}"
        return f"{self.upsample}→{self.transform}{shape}→{self.activation}"


@dataclass(frozen=True)
class Decision:
    """One choice the controller makes: a name (for logs) and the values to choose from."""

    name: str
    choices: tuple


@dataclass(frozen=True)
class Genotype:
    """A searched decoder: cells (one shared, or one per level) and cross-level connections.

    Attributes
    ----------
    depth : int
        Encoder and decoder levels.
    cells : tuple of Cell
        One cell (shared by every level) or ``depth`` cells, finest level first.
    connections : tuple of tuple of int
        For each decoder level (finest first), the sorted encoder levels added to it. Encoder
        level ``j`` has half the resolution of decoder level ``j``.
    """

    depth: int
    cells: tuple[Cell, ...]
    connections: tuple[tuple[int, ...], ...]

    @property
    def shared(self) -> bool:
        """Whether one cell serves every level."""
        return len(self.cells) == 1

    def cell(self, level: int) -> Cell:
        """The cell of decoder ``level`` (0 is the finest)."""
        return self.cells[0 if self.shared else level]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see :meth:`from_dict`)."""
        return {
            "depth": self.depth,
            "cells": [asdict(cell) for cell in self.cells],
            "connections": [list(levels) for levels in self.connections],
        }

    def canonical(self) -> Genotype:
        """The same network with the decisions it ignores set to fixed values (kernel and dilation
        of weightless transformations, the dilation of 1×1 kernels), so equal networks hash equally."""
        cells = tuple(
            Cell(c.upsample, c.transform, 1, 1, c.activation) if c.transform in WEIGHTLESS or c.kernel == 1 else c
            for c in self.cells
        )
        return Genotype(self.depth, cells, self.connections)

    def hash(self) -> str:
        """12 hex digits identifying the network (of :meth:`canonical`): the search's cache key.

        Examples
        --------
        >>> a = default_genotype(3)
        >>> a.hash() == Genotype.from_dict(a.to_dict()).hash() and len(a.hash())
        12
        """
        text = json.dumps(self.canonical().to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def describe(self) -> str:
        """One line: per decoder level (``d0`` the finest), its cell and the encoder levels added to it.

        Examples
        --------
        >>> default_genotype(2).describe()
        'shared bilinear→conv3x3/d1→leaky-relu; d0 +{}; d1 +{0}'
        """
        links = [f"+{{{','.join(map(str, sources))}}}" for sources in self.connections]
        if self.shared:
            return f"shared {self.cells[0].describe()}; " + "; ".join(f"d{i} {link}" for i, link in enumerate(links))
        return "; ".join(f"d{i} {self.cells[i].describe()} {link}" for i, link in enumerate(links))

    @classmethod
    def from_dict(cls, data: Any, source: str = "genotype") -> Genotype:
        """Check a genotype's JSON form and build it; every problem is an :class:`InputError`
        naming ``source`` and the bad key or value.

        Parameters
        ----------
        data : dict
            ``{"depth": D, "cells": [cell, ...], "connections": [[level, ...], ...]}`` with one
            cell (shared) or ``D``, each ``{"upsample", "transform", "kernel", "dilation",
            "activation"}``, and ``D`` connection lists; an ``"info"`` entry is allowed and ignored.
        source : str
            What to call the data in messages (a file name).
        """
        if not isinstance(data, dict):
            raise InputError(f"{source}: a genotype is a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {*_KEYS, INFO_KEY})
        if unknown:
            raise InputError(f"{source}: unknown key {unknown[0]!r} (a genotype has {', '.join(_KEYS)})")
        missing = [key for key in _KEYS if key not in data]
        if missing:
            raise InputError(f"{source}: missing key {missing[0]!r}")
        depth = data["depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
            raise InputError(f"{source}: depth={depth!r} must be an integer in [1, {MAX_DEPTH}]")
        cells = data["cells"]
        if not isinstance(cells, list) or len(cells) not in (1, depth):
            raise InputError(f"{source}: cells must be a list of 1 (shared) or depth={depth} cells")
        connections = data["connections"]
        if not isinstance(connections, list) or len(connections) != depth:
            raise InputError(f"{source}: connections must be a list of depth={depth} lists (one per decoder level)")
        links = []
        for level, sources in enumerate(connections):
            where = f"{source}: connections[{level}]"
            if not isinstance(sources, list):
                raise InputError(f"{where} must be a list of encoder levels")
            for item in sources:
                if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item < depth:
                    raise InputError(f"{where} holds {item!r}; encoder levels are integers in [0, {depth - 1}]")
            if len(set(sources)) != len(sources):
                raise InputError(f"{where} names an encoder level twice")
            links.append(tuple(sorted(sources)))
        return cls(depth, tuple(_cell(cell, f"{source}: cells[{i}]") for i, cell in enumerate(cells)), tuple(links))

    @classmethod
    def from_choices(cls, choices: Sequence[int], depth: int, shared: bool) -> Genotype:
        """The genotype a controller's choice indices (one per :func:`decisions` entry) describe."""
        plan = decisions(depth, shared)
        if len(choices) != len(plan):
            raise ValueError(f"{len(choices)} choices for {len(plan)} decisions")
        values = [decision.choices[index] for decision, index in zip(plan, choices, strict=True)]
        fields = len(CELL_CHOICES)
        cells = tuple(Cell(*values[i : i + fields]) for i in range(0, fields * (1 if shared else depth), fields))
        flags = values[len(cells) * fields :]
        links = tuple(tuple(j for j in range(depth) if flags[level * depth + j]) for level in range(depth))
        return cls(depth, cells, links)

    def to_choices(self) -> list[int]:
        """Inverse of :meth:`from_choices`."""
        indices = [CELL_CHOICES[name].index(getattr(cell, name)) for cell in self.cells for name in CELL_CHOICES]
        return indices + [int(j in sources) for sources in self.connections for j in range(self.depth)]


def _cell(data: Any, where: str) -> Cell:
    if not isinstance(data, dict):
        raise InputError(f"{where} must be an object with keys {', '.join(CELL_CHOICES)}")
    unknown = sorted(set(data) - set(CELL_CHOICES))
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (a cell has {', '.join(CELL_CHOICES)})")
    for name, choices in CELL_CHOICES.items():
        if name not in data:
            raise InputError(f"{where}: missing key {name!r}")
        value = data[name]
        # JSON true is an int to Python: exclude it explicitly from the integer fields.
        if value not in choices or isinstance(value, bool):
            raise InputError(f"{where}.{name}={value!r} is not one of {', '.join(map(str, choices))}")
    return Cell(**data)


def decisions(depth: int, shared: bool) -> list[Decision]:
    """The controller's decisions in order: each cell's fields, then one yes/no per
    (decoder level, encoder level) pair."""
    cells = 1 if shared else depth
    plan = [Decision(f"cells[{i}].{name}", choices) for i in range(cells) for name, choices in CELL_CHOICES.items()]
    plan += [Decision(f"connections[{d}]∋{e}", (False, True)) for d in range(depth) for e in range(depth)]
    return plan


def space_size(depth: int, shared: bool) -> int:
    """How many genotypes the space holds (counting those :meth:`Genotype.canonical` merges).

    Examples
    --------
    >>> space_size(1, True)
    2160
    """
    return math.prod(len(d.choices) for d in decisions(depth, shared))


def sample_random(rng: np.random.Generator, depth: int, shared: bool) -> Genotype:
    """A genotype drawn uniformly, decision by decision (each connection present with probability 1/2).

    Examples
    --------
    >>> sample_random(np.random.default_rng(0), depth=3, shared=False).depth
    3
    """
    return Genotype.from_choices([int(rng.integers(len(d.choices))) for d in decisions(depth, shared)], depth, shared)


def default_genotype(depth: int = 5) -> Genotype:
    """The standard DIP decoder expressed in this space (not a search result): one shared
    bilinear → 3×3 conv → LeakyReLU cell, and each decoder level fed the encoder level of its
    own resolution (as the skip network's skip connections)."""
    return Genotype(depth, (Cell(),), tuple((level - 1,) if level else () for level in range(depth)))


def read_genotype(text_or_path: str | os.PathLike) -> Genotype:
    """A genotype from a JSON file (``best_arch.json``) or from JSON text starting with ``{``."""
    text = str(text_or_path)
    if text.lstrip().startswith("{"):
        source, raw = "genotype", text
    else:
        path = Path(text)
        if not path.is_file():
            raise InputError(f"{path}: no such genotype file")
        source, raw = str(path), path.read_text()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputError(f"{source}: not valid JSON ({error})") from None
    return Genotype.from_dict(data, source)


def write_genotype(path: str | os.PathLike, genotype: Genotype, info: dict[str, Any] | None = None) -> Path:
    """Write ``genotype`` as JSON (with ``info`` beside it, for people) and return the path."""
    data = genotype.to_dict() | ({INFO_KEY: info} if info else {})
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)
