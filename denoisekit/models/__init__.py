"""Denoising networks, found by name.

Every model is a ``torch.nn.Module`` with one call shape, ``model(x, sigma=None) -> x_hat``:
``x`` is a ``(N, C, H, W)`` batch in [0, 1] and ``sigma`` an optional ``(N,)`` tensor of noise
levels on the 0–255 scale (models that do not condition on the noise level ignore it).
Create one with :func:`create_model`; ``pretrained=True`` loads the weights shipped in
``denoisekit/weights`` under the same name.

>>> from denoisekit.models import create_model, list_models
>>> "dncnn" in list_models()
True
>>> create_model("dncnn", channels=1).num_layers
17
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from denoisekit.errors import InputError

_MODELS: dict[str, Callable[..., nn.Module]] = {}
# Modules whose import registers models (imported on first lookup).
_MODEL_MODULES = (
    "denoisekit.models.cnn",
    "denoisekit.models.cae",
    "denoisekit.models.dncnn",
    "denoisekit.models.win5rb",
    "denoisekit.models.n2n_autoencoder",
    "denoisekit.models.unet",
    "denoisekit.models.blindspot",
)


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model class (or factory) under ``name``."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise RuntimeError(f"model {name!r} is registered twice")
        _MODELS[name] = factory
        return factory

    return decorate


def list_models() -> list[str]:
    """Names of all registered models."""
    for module in _MODEL_MODULES:
        importlib.import_module(module)
    return list(_MODELS)


def model_accepts(name: str, keyword: str) -> bool:
    """Whether the model registered as ``name`` takes the configuration keyword ``keyword``."""
    list_models()
    return name in _MODELS and keyword in inspect.signature(_MODELS[name]).parameters


def create_model(name: str, pretrained: bool = False, **config: Any) -> nn.Module:
    """Build the model registered as ``name`` with its ``config`` keywords.

    With ``pretrained=True`` the shipped weights named ``name`` (see
    :func:`denoisekit.models.weights.shipped_weights`) are loaded, config and all.
    """
    if pretrained:
        from denoisekit.models.weights import load_weights, shipped_weights

        return load_weights(shipped_weights(name)).model
    names = list_models()
    if name not in _MODELS:
        raise InputError(f"unknown model {name!r}; choose one of: {', '.join(names)}")
    try:
        model = _MODELS[name](**config)
    except (TypeError, ValueError) as error:
        raise InputError(f"model {name!r}: bad configuration {config}: {error}") from None
    model.model_name = name
    model.model_config = dict(config)
    return model
