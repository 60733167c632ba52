"""One registry of denoising methods, one call shape.

Every method — a classical filter, a pretrained network, a zero-shot fit — is a name with a
:class:`MethodSpec`. The CLI's options, ``bench --methods``, the web page's forms and the
Python API all read these specs, so a method registered once appears everywhere.

A method's function has the shape::

    fn(image, sigma, progress=None, **params) -> image

with ``image`` float32 ``(H, W, C)`` in [0, 1] and ``sigma`` on the 0–255 scale (already
estimated when the user gave none, or ``None`` for methods that do not use it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from denoisekit.errors import InputError

#: ``progress(step, total, metrics) -> bool``; returning False asks the work to stop.
Progress = Callable[[int, int, dict], bool]

# Modules whose import registers methods. Listed here (not imported eagerly) so that
# classical methods never pay for importing torch.
_METHOD_MODULES = (
    "denoisekit.classical",
    "denoisekit.models.methods",
    "denoisekit.zeroshot.methods",
    "denoisekit.search.methods",
)
_REGISTRY: dict[str, MethodSpec] = {}
_ALIASES: dict[str, str] = {}


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a method, as the CLI and the web page show it."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def check(self, value: Any) -> Any:
        """Convert ``value`` to this parameter's type and check its range, or raise InputError."""
        if value is None:
            return None
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            raise InputError(f"parameter {self.name}={value!r} must be of type {self.type.__name__}") from None
        if self.choices is not None and converted not in self.choices:
            raise InputError(f"parameter {self.name}={value!r} must be one of {', '.join(map(str, self.choices))}")
        if (self.low is not None and converted < self.low) or (self.high is not None and converted > self.high):
            raise InputError(f"parameter {self.name}={value!r} must be in [{self.low}, {self.high}]")
        return converted


@dataclass(frozen=True)
class MethodSpec:
    """What the rest of denoisekit knows about a method."""

    name: str
    family: str
    summary: str
    function: Callable[..., np.ndarray]
    params: tuple[Param, ...] = ()
    channels: tuple[int, ...] = (1, 3)
    uses_sigma: bool = True
    #: Rough peak memory per pixel and channel, to decide when to tile automatically.
    bytes_per_pixel: float = 64.0
    #: Whether the function takes ``device=`` (torch methods); classical ones run on the CPU.
    uses_device: bool = False
    #: Returns why the method cannot run here (a missing optional package), or None.
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    #: Whether the function takes ``weights=`` (a weights file on the local disk: never from the web).
    uses_weights: bool = False
    #: Whether the function takes ``reference=`` (the clean image: PSNR per iteration, oracle mode)
    #: and ``history=`` (a :class:`~denoisekit.zeroshot.history.RunHistory` it fills, for figures).
    uses_reference: bool = False

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate user parameters against the spec; unknown names are errors, not ignored."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise InputError(f"method {self.name!r} has no parameter {unknown[0]!r} (parameters: {allowed})")
        return {name: known[name].check(value) for name, value in params.items() if value is not None}


def register_method(
    name: str,
    *,
    family: str,
    summary: str,
    params: tuple[Param, ...] = (),
    channels: tuple[int, ...] = (1, 3),
    uses_sigma: bool = True,
    bytes_per_pixel: float = 64.0,
    uses_device: bool = False,
    unavailable: Callable[[], str | None] = lambda: None,
    uses_weights: bool = False,
    uses_reference: bool = False,
) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator registering ``fn(image, sigma, progress=None, **params)`` under ``name``."""

    def decorate(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        if name in _REGISTRY:
            raise RuntimeError(f"method {name!r} is registered twice")
        _REGISTRY[name] = MethodSpec(
            name,
            family,
            summary,
            function,
            params,
            channels,
            uses_sigma,
            bytes_per_pixel,
            uses_device,
            unavailable,
            uses_weights,
            uses_reference,
        )
        return function

    return decorate


def register_alias(alias: str, target: str) -> None:
    """Make ``alias`` (for example ``default``) name another method."""
    _ALIASES[alias] = target


def _load_all() -> None:
    for module in _METHOD_MODULES:
        importlib.import_module(module)


def get_method(name: str) -> MethodSpec:
    """Return the spec registered as ``name`` (aliases resolved), or raise InputError."""
    _load_all()
    spec = _REGISTRY.get(_ALIASES.get(name, name))
    if spec is None:
        raise InputError(f"unknown method {name!r}; choose one of: {', '.join(list_methods())}")
    return spec


def list_methods(family: str | None = None) -> list[str]:
    """Names of all registered methods (optionally of one family), in registration order."""
    _load_all()
    return [name for name, spec in _REGISTRY.items() if family is None or spec.family == family]


def resolve_alias(name: str) -> str:
    """The method an alias such as ``default`` stands for (a plain name stands for itself)."""
    _load_all()
    return _ALIASES.get(name, name)
