"""The web page: ``denoisekit serve``, a thin face over the Python API (nothing else imports it)."""

from denoisekit.web.app import WebConfig, create_app, serve

__all__ = ["WebConfig", "create_app", "serve"]
