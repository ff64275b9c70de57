import pytest

"""DINOv2 as timm builds it with random weights, loaded back from a local file (no network)."""

import numpy as np
import torch

from al_bench.embedders import embed


@pytest.mark.slow
def test_dinov2_loads_local_weights_and_matches_a_direct_forward(dinov2_file, offline_hub, tmp_path, stripes):
    net, path = dinov2_file
    imgs, _ = stripes(5, size=20)
    e = embed(imgs, np.arange(5), "dinov2_vits14", "fp", tmp_path, 0, image_size=28, weights=str(path),
              batch_size=2, device="cpu")
    assert e.features.shape == (5, 384) and e.embedder == "dinov2_vits14"
    from PIL import Image

    x = np.stack([np.asarray(Image.fromarray(i).resize((28, 28), Image.BICUBIC)) for i in imgs])
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        ref = net((t - mean) / std).numpy()
    assert np.allclose(e.features, ref, atol=1e-4)
    # frozen network: one cache entry for every seed and split; a transform change is a new one
    again = embed(imgs, np.arange(2), "dinov2_vits14", "fp", tmp_path, 7, image_size=28, weights=str(path),
                  batch_size=2, device="cpu")
    assert again.from_cache and again.cache_file == e.cache_file
    other = embed(imgs, np.arange(5), "dinov2_vits14", "fp", tmp_path, 0, image_size=42, weights=str(path),
                  batch_size=2, device="cpu")
    assert not other.from_cache and other.cache_file != e.cache_file
