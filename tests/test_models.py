"""Networks: shapes, initialisations, weights files, and the network methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import smooth_image

from denoisekit import InputError, add_noise, denoise, psnr
from denoisekit.models import create_model, list_models
from denoisekit.models.weights import grow_weights, load_weights, save_weights

SMALL = {
    "cnn": {"features": 8, "depth": 3},
    "cae": {"features": 8},
    "dncnn": {"features": 8, "num_layers": 5},
    "win5rb": {"features": 8},
    "n2n-autoencoder": {},
    "unet": {"widths": (8, 16)},
    "blindspot": {"widths": (8, 8)},
}


def test_every_model_is_registered():
    assert set(SMALL) <= set(list_models())


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("channels", [1, 3])
def test_models_keep_any_image_size(name, channels):
    model = create_model(name, channels=channels, **SMALL[name]).eval()
    x = torch.rand(2, channels, 21, 30)
    with torch.no_grad():
        y = model(x, torch.tensor([25.0, 10.0]))
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_dncnn_and_win5rb_shapes_follow_the_papers():
    dncnn = create_model("dncnn", channels=1)
    convs = [m for m in dncnn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 17 and all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in dncnn.modules()) == 15
    win = create_model("win5rb", channels=1)
    convs = [m for m in win.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and convs[0].out_channels == 128 and convs[0].kernel_size == (7, 7)


def test_n2n_autoencoder_layout_and_initialisations():
    model = create_model("n2n-autoencoder", channels=3, init="xavier-positive")
    convs = [m for m in model.modules() if type(m) is torch.nn.Conv2d]
    transposed = [m for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 256, 512]
    assert len(transposed) == 5 and transposed[-1].out_channels == 3
    assert all(c.kernel_size == (2, 2) and c.padding == (1, 1) for c in convs + transposed)
    layers = list(model.body)
    bn_after = [type(layers[i - 1]).__name__ for i, m in enumerate(layers) if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn_after == ["Conv2d", "Conv2d", "ConvTranspose2d", "ConvTranspose2d"]
    assert min(float(c.weight.detach().min()) for c in convs + transposed) == 0.0
    zeros = create_model("n2n-autoencoder", channels=3, init="zeros")
    assert all(float(c.weight.detach().abs().sum()) == 0 for c in zeros.modules() if isinstance(c, torch.nn.Conv2d))
    with pytest.raises(InputError, match="bad configuration"):
        create_model("n2n-autoencoder", init="he")


def test_unknown_model_and_bad_config_are_clear():
    with pytest.raises(InputError, match="unknown model 'resnet'"):
        create_model("resnet")
    with pytest.raises(InputError, match="bad configuration"):
        create_model("dncnn", depth=3)


def test_weights_round_trip(tmp_path):
    model = create_model("unet", channels=1, widths=(8, 16)).eval()
    path = save_weights(tmp_path / "w.pt", model, {"note": "test"})
    loaded = load_weights(path)
    x, sigma = torch.rand(1, 1, 24, 24), torch.tensor([20.0])
    with torch.no_grad():
        assert torch.equal(model(x, sigma), loaded.model(x, sigma))
    assert loaded.name == "unet" and loaded.card == {"note": "test"} and loaded.config["widths"] == (8, 16)


@pytest.mark.parametrize(
    ("name", "small", "large"),
    [
        ("unet", {"widths": (8, 16)}, {"widths": (12, 24)}),  # convolutions and transposed convolutions
        ("dncnn", {"features": 8, "num_layers": 4}, {"features": 12, "num_layers": 4}),  # with batch norm
    ],
)
def test_growing_a_network_keeps_its_function(name, small, large):
    torch.manual_seed(0)
    source = create_model(name, channels=3, **small).eval()
    for module in source.modules():  # batch-norm statistics that are not the defaults
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    target = grow_weights(source, create_model(name, channels=3, **large).eval())
    x, sigma = torch.rand(2, 3, 20, 28), torch.tensor([10.0, 30.0])
    call = (x, sigma) if name == "unet" else (x,)
    with torch.no_grad():
        assert torch.allclose(source(*call), target(*call), atol=1e-5)
    assert sum(p.numel() for p in target.parameters()) > sum(p.numel() for p in source.parameters())
    with pytest.raises(InputError, match="cannot grow"):
        grow_weights(target, create_model(name, channels=3, **small))  # narrower
    with pytest.raises(InputError, match="cannot grow the network: its layers differ"):
        grow_weights(source, create_model("unet", channels=3, widths=(8, 16, 32)))


def test_bad_weights_files_are_refused(tmp_path, gray):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="not a readable weights file"):
        load_weights(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="not a denoisekit weights file"):
        load_weights(foreign)
    with pytest.raises(InputError, match="no such weights file"):
        load_weights(tmp_path / "missing.pt")
    path = save_weights(tmp_path / "unet.pt", create_model("unet", channels=1, widths=(8, 16)))
    with pytest.raises(InputError, match="for model 'unet', not 'dncnn'"):
        denoise(gray, "dncnn", 25, weights=path, device="cpu")
    with pytest.raises(InputError, match="3-channel"):
        denoise(np.repeat(gray, 3, axis=2), weights=path, device="cpu")
    with pytest.raises(InputError, match="takes no weights"):
        denoise(gray, "median", 25, weights=path)
    payload = torch.load(path, weights_only=True)
    payload["config"] = {"channels": 1, "widths": (8, 32)}
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(InputError, match="do not fit model 'unet'"):
        load_weights(tmp_path / "mismatch.pt")


@pytest.mark.parametrize("channels", [1, 3])
def test_shipped_default_beats_the_noisy_input(channels):
    clean = smooth_image(96, 96, channels)
    noisy = add_noise(clean, sigma=25, seed=1)
    out = denoise(noisy, device="cpu")  # the default: the shipped network for this channel count
    assert psnr(clean, out) > psnr(clean, noisy) + 6
    assert create_model("unet", pretrained=True, channels=channels).model_name == "unet"


def test_networks_run_in_bfloat16_when_asked_at_about_the_same_psnr():
    clean = smooth_image(96, 96, 3)
    noisy = add_noise(clean, sigma=25, seed=1)
    full, half = (denoise(noisy, device="cpu", precision=p) for p in ("float32", "bfloat16"))
    assert not np.array_equal(full, half)  # the arithmetic really changed
    assert abs(psnr(clean, full) - psnr(clean, half)) < 0.05
    with pytest.raises(InputError, match="precision"):
        denoise(noisy, device="cpu", precision="float16")
