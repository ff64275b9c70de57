import numpy as np
import pytest
import torch

from al_bench.embedders import embed
from al_bench.embedders.weights import DINOV2


@pytest.mark.slow
def test_timm_builds_the_named_model_from_a_local_file(dinov2_file, offline_hub, tmp_path, stripes):
    net, path = dinov2_file
    imgs, _ = stripes(3, size=28)  # already at the model's size: no resize between the two paths
    e = embed(imgs, np.arange(3), "timm", "fp", tmp_path, 0, model=DINOV2, image_size=28, weights=str(path),
              batch_size=2, device="cpu")
    assert e.embedder == "timm" and e.cache_file.parent.name == "timm" and e.features.shape == (3, 384)
    mean = torch.tensor(net.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(net.pretrained_cfg["std"]).view(1, 3, 1, 1)
    with torch.inference_mode():
        ref = net((torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0 - mean) / std).numpy()
    assert np.allclose(e.features, ref, atol=1e-4)
