"""NAS-DIP: search the decoder of Deep Image Prior (upsampling cells, cross-level connections).

``space``       the search space: choices, the JSON genotype, validation, random sampling, hashing
``network``     builds an encoder–decoder from a genotype (fitted by ``zeroshot.dip.fit``)
``controller``  the LSTM controller and REINFORCE (EMA baseline, entropy bonus)
``strategies``  ``rl`` and ``random``, one interface
``executors``   in-process, local worker processes, or Ray
``scoring``     a candidate's reward on the proxy budget (PSNR, or self-validation without a reference)
``runner``      the loop: log, cache, resume, checkpoints, reports (:func:`run_search`)
``methods``     registers ``nas-dip`` (``denoisekit denoise -m nas-dip --arch best_arch.json``)

Importing this package (or ``space``, ``executors``, ``runner``) does not import torch.
"""

from denoisekit.search.runner import SearchResult, run_search, score_genotype

__all__ = ["SearchResult", "run_search", "score_genotype"]
