"""denoisekit: remove noise from images — classical filters, trained networks, self-supervised
and zero-shot methods — and say honestly how well it worked.

The public API works on float32 arrays of shape ``(H, W, C)``, C in {1, 3}, values in [0, 1];
noise levels are on the 0–255 scale.
"""

from denoisekit.api import denoise, denoise_file, denoise_files, resolve_device, sample_image
from denoisekit.errors import Cancelled, InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.io import read_image, write_image
from denoisekit.metrics import mse, psnr, ssim
from denoisekit.noise import add_noise, benchmark_noise
from denoisekit.registry import get_method, list_methods, register_method
from denoisekit.search import run_search

__version__ = "0.1.0"
__all__ = [
    "Cancelled",
    "InputError",
    "add_noise",
    "benchmark_noise",
    "denoise",
    "denoise_file",
    "denoise_files",
    "estimate_sigma",
    "get_method",
    "list_methods",
    "mse",
    "psnr",
    "read_image",
    "register_method",
    "resolve_device",
    "run_search",
    "sample_image",
    "ssim",
    "write_image",
]
