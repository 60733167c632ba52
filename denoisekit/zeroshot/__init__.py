"""Zero-shot denoising: methods that see nothing but the one noisy image.

``skipnet``      the skip encoder–decoder of Deep Image Prior (network builder only)
``dip``          one network-agnostic fitting loop (perturbed code, moving average, backtracking)
``stopping``     when to stop: oracle PSNR and no-reference rules, as plug-ins of the loop
``zsn2n``        Zero-Shot Noise2Noise
``pixel2pixel``  Pixel2Pixel: Noise2Noise between pixels of similar patches
``single_image`` the Adam loop and 8-view average ZS-N2N and Pixel2Pixel share
``wiener``       BM3D's collaborative Wiener step guided by a first estimate (zs-blend's last step)
``history``      the per-iteration record of a fit (NumPy only: figures and the CLI read it)
``methods``      registers ``dip``, ``zs-n2n``, ``pixel2pixel`` and ``zs-blend``

Importing this package does not import torch; its modules (except ``history``) do.
"""
