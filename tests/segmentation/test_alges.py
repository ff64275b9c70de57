"""ALGES embeddings: minus the autograd gradient of a last 1×1 conv, hand-computed maps, chunking,
input checks, streaming over images, and the documented memory arithmetic."""

import weakref

import numpy as np
import pytest
import torch

from al_bench.segmentation import alges
from al_bench.segmentation.alges import alges_bytes, alges_embedding, alges_embeddings


def _tiny_model(C: int, D: int, absent: int | None = None, seed: int = 0):
    """(probs (C, H, W), feats (D, H, W), logits (C, H, W), last-layer weight) of a float64 torch
    model: a 3×3 conv + ReLU backbone giving feats, a 1×1 conv C ← D without bias giving logits.
    With ``absent``, that class's weights are strongly negative, so no pixel predicts it."""
    g = torch.Generator().manual_seed(seed)
    backbone = torch.nn.Conv2d(3, D, 3, padding=1).double()
    last = torch.nn.Conv2d(D, C, 1, bias=False).double()
    with torch.no_grad():  # spread logits: several classes predicted, a mix of confident and uncertain pixels
        backbone.weight.copy_(torch.randn(backbone.weight.shape, generator=g, dtype=torch.float64))
        last.weight.copy_(2.0 * torch.randn(last.weight.shape, generator=g, dtype=torch.float64))
        if absent is not None:
            last.weight[absent] = -10.0  # feats ≥ 0 after ReLU: this logit is never the largest
    x = torch.randn((1, 3, 6, 7), generator=g, dtype=torch.float64)
    feats = torch.relu(backbone(x)).detach()[0]  # (D, H, W), a leaf: gradients stop at the last layer
    logits = last(feats[None])[0]  # (C, H, W)
    return torch.softmax(logits, dim=0), feats, logits, last.weight


def test_image_embedding_is_minus_the_autograd_gradient_of_the_last_1x1_conv():
    """Mean per-pixel cross-entropy with ŷ = argmax(logits) as target: the image embedding is
    −dL/dW flattened (C, D), i.e. the mean of (onehot(ŷ) − p) ⊗ h."""
    C, D = 4, 5
    probs, feats, logits, weight = _tiny_model(C, D)
    yhat = logits.argmax(dim=0)
    assert len(torch.unique(yhat)) >= 3  # a real mix of predicted classes
    loss = torch.nn.functional.cross_entropy(logits[None], yhat[None])  # mean over the H × W pixels
    (grad,) = torch.autograd.grad(loss, weight)
    expected = -grad.reshape(C, D).numpy().ravel()
    for p, h in [(probs.detach(), feats), (probs.detach().numpy(), feats.numpy())]:  # torch and numpy inputs
        emb = alges_embedding(p, h)
        assert emb.dtype == np.float64 and emb.shape == (C * D,)
        np.testing.assert_allclose(emb, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("chunk", [65536, 7])
def test_semantic_blocks_are_minus_the_autograd_gradient_of_each_class_loss(chunk):
    """Block k = −dL_k/dW with L_k the mean cross-entropy over the pixels predicted k; the
    never-predicted class gets a zero block. chunk=7 splits the 42 pixels unevenly."""
    C, D, absent = 5, 4, 3
    probs, feats, logits, weight = _tiny_model(C, D, absent=absent, seed=2)
    yhat = logits.argmax(dim=0)
    present = torch.unique(yhat).tolist()
    assert absent not in present and len(present) >= 3
    emb = alges_embedding(probs.detach(), feats, variant="semantic", chunk=chunk)
    assert emb.shape == (C * C * D,)
    blocks = emb.reshape(C, C, D)
    for k in range(C):
        if k not in present:
            assert np.all(blocks[k] == 0.0)
            continue
        mask = yhat == k
        loss_k = torch.nn.functional.cross_entropy(logits.permute(1, 2, 0)[mask], yhat[mask])
        (grad,) = torch.autograd.grad(loss_k, weight, retain_graph=True)
        np.testing.assert_allclose(blocks[k], -grad.reshape(C, D).numpy(), rtol=1e-10, atol=1e-13)


def _hand_maps():
    """2×2 maps, C = 2, D = 1: p(class 1) = .9 .2 / .6 .3, so ŷ = 1 0 / 1 0; h = 1 2 / 3 4."""
    p1 = np.array([[0.9, 0.2], [0.6, 0.3]])
    return np.stack([1.0 - p1, p1]), np.array([[[1.0, 2.0], [3.0, 4.0]]])


def test_hand_computed_two_class_maps():
    """g = onehot(ŷ) − p per pixel: (−.1, .1), (.2, −.2), (−.4, .4), (.3, −.3); times h = 1, 2, 3, 4:
    (−.1, .1), (.4, −.4), (−1.2, 1.2), (1.2, −1.2). Image: their mean (.075, −.075). Semantic:
    class 0 = pixels 2, 4 → (.8, −.8); class 1 = pixels 1, 3 → (−.65, .65)."""
    probs, feats = _hand_maps()
    np.testing.assert_allclose(alges_embedding(probs, feats), [0.075, -0.075], rtol=1e-12)
    np.testing.assert_allclose(alges_embedding(probs, feats, "semantic"), [0.8, -0.8, -0.65, 0.65], rtol=1e-12)


def test_hand_computed_three_classes_two_features_with_an_absent_class():
    """1×2 map, C = 3, D = 2. Pixel A: p = (.5, .3, .2), ŷ = 0, h = (1, 2) → g ⊗ h =
    [[.5, 1], [−.3, −.6], [−.2, −.4]]; pixel B: p = (.1, .7, .2), ŷ = 1, h = (3, −1) →
    [[−.3, .1], [.9, −.3], [−.6, .2]]. Class-major layout, class 2 never predicted."""
    probs = np.array([[0.5, 0.1], [0.3, 0.7], [0.2, 0.2]])[:, None, :]
    feats = np.array([[1.0, 3.0], [2.0, -1.0]])[:, None, :]
    np.testing.assert_allclose(alges_embedding(probs, feats), [0.1, 0.55, 0.3, -0.45, -0.4, -0.1],
                               rtol=1e-12, atol=1e-15)
    sem = alges_embedding(probs, feats, variant="semantic")
    np.testing.assert_allclose(sem, [0.5, 1.0, -0.3, -0.6, -0.2, -0.4,
                                     -0.3, 0.1, 0.9, -0.3, -0.6, 0.2,
                                     0.0, 0.0, 0.0, 0.0, 0.0, 0.0], rtol=1e-12, atol=1e-15)


def _random_maps(C=4, D=3, H=5, W=9, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (C, H, W))
    p = np.exp(z - z.max(0))
    return (p / p.sum(0)).astype(dtype), rng.normal(size=(D, H, W)).astype(dtype)


@pytest.mark.parametrize("variant", ["image", "semantic"])
def test_chunking_does_not_change_the_result(variant):
    """One pixel per chunk, an uneven chunk and one chunk for all 45 pixels agree."""
    probs, feats = _random_maps()
    whole = alges_embedding(probs, feats, variant)
    assert np.abs(whole).max() > 0.01
    for chunk in (1, 4, 45, 1000):
        np.testing.assert_allclose(alges_embedding(probs, feats, variant, chunk=chunk), whole, rtol=1e-12, atol=1e-15)


def test_float32_inputs_give_float32_close_to_float64():
    probs, feats = _random_maps(seed=3)
    ref = alges_embedding(probs, feats, "semantic")
    for p, h in [(probs.astype(np.float32), feats.astype(np.float32)),
                 (torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(feats, dtype=torch.float16))]:
        emb = alges_embedding(p, h, "semantic", chunk=8)
        assert emb.dtype == np.float32
        np.testing.assert_allclose(emb, ref, rtol=2e-3, atol=2e-3)


def test_image_is_the_pixel_weighted_mean_of_the_semantic_blocks():
    """Σ_k (n_k / P) · block_k = the image embedding (each pixel belongs to one predicted class)."""
    probs, feats = _random_maps(C=3, D=2, seed=5)
    C, D, P = 3, 2, probs.shape[1] * probs.shape[2]
    counts = np.bincount(probs.reshape(C, -1).argmax(0), minlength=C)
    sem = alges_embedding(probs, feats, "semantic").reshape(C, C * D)
    np.testing.assert_allclose((counts[:, None] / P * sem).sum(0), alges_embedding(probs, feats), rtol=1e-12)


def _bad(probs_mod=None, feats_mod=None):
    probs, feats = _random_maps()
    return (probs_mod(probs.copy()) if probs_mod else probs), (feats_mod(feats.copy()) if feats_mod else feats)


def _set(a, idx, v):
    a[idx] = v
    return a


@pytest.mark.parametrize("probs, feats, kwargs, match", [
    (*_bad(lambda p: p[:, :, 0]), {}, r"probs must be \(C, H, W\)"),
    (*_bad(feats_mod=lambda f: f[0]), {}, r"feats must be \(D, H, W\)"),
    (*_bad(feats_mod=lambda f: f[:, :4]), {}, r"must share \(H, W\)"),
    (np.ones((1, 2, 2)), np.ones((3, 2, 2)), {}, "at least 2 classes"),
    (np.ones((2, 0, 3)), np.ones((3, 0, 3)), {}, "no pixels"),
    (*_bad(lambda p: _set(p, (0, 2, 3), np.nan)), {}, r"probs contain NaN.*row 2, column 3"),
    (*_bad(feats_mod=lambda f: _set(f, (1, 4, 8), np.inf)), {}, r"feats contain NaN.*row 4, column 8"),
    (*_bad(lambda p: np.log(p)), {}, "logits instead of softmax"),
    (*_bad(lambda p: 2.0 * p), {}, r"must sum to 1 over the classes.*sums to 2\b"),
    (*_bad(lambda p: _set(p, (slice(None), 1, 1), [1.2, -0.2, 0.0, 0.0])), {}, r"pixel \(row 1, column 1\) has -0.2"),
    (*_bad(), {"variant": "pixel"}, "variant must be one of"),
    (*_bad(), {"chunk": 0}, "chunk must be a positive integer"),
    (np.array(["a", "b"]).reshape(2, 1, 1), np.ones((1, 1, 1)), {}, "real numbers"),
])
def test_bad_inputs_raise_value_errors_that_say_what_is_wrong(probs, feats, kwargs, match):
    with pytest.raises(ValueError, match=match):
        alges_embedding(probs, feats, **kwargs)


@pytest.mark.parametrize("variant", ["image", "semantic"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_feature_is_named_by_its_pixel_in_every_chunk(variant, value):
    """Features are checked through the chunk's GEMM result; the message still names the pixel
    (in image order, also when the semantic variant sorts the chunk's pixels by class)."""
    for chunk in (1, 10, 65536):
        probs, feats = _bad(feats_mod=lambda f: _set(f, (2, 3, 6), value))
        with pytest.raises(ValueError, match=r"feats contain NaN or infinite values \(first at pixel \(row 3, column 6\)\)"):
            alges_embedding(probs, feats, variant, chunk=chunk)
    # every pixel predicts class 0 with p = 0.4: each of the 45 terms of class 0's gradient sum
    # is 0.6 * 3e38, so the float32 sum overflows in any summation order (random probabilities
    # can cancel to a finite sum, which then depends on the BLAS kernel's order)
    same = np.broadcast_to(np.array([0.4, 0.2, 0.2, 0.2], np.float32)[:, None, None], probs.shape).copy()
    with pytest.raises(ValueError, match="overflow float32"):
        alges_embedding(same, np.full((3, 5, 9), 3e38, np.float32), variant)


def test_embeddings_stack_one_row_per_image_and_hold_one_image_at_a_time():
    """A generator's previous maps are garbage by the time it makes the next ones: only one
    image is held at a time. The rows equal one call per image."""
    maps = [_random_maps(seed=s) for s in range(4)]
    alive = []

    def pairs():
        for s in range(4):  # numpy arrays are freed by reference counting: no gc pass needed
            assert not any(ref() is not None for ref in alive), "a previous image's maps are still held"
            probs, feats = maps[s][0].copy(), maps[s][1].copy()
            alive[:] = [weakref.ref(probs), weakref.ref(feats)]
            yield probs, feats
            del probs, feats

    for variant, width in (("image", 12), ("semantic", 48)):
        out = alges_embeddings(pairs(), variant=variant)
        assert out.shape == (4, width)
        for s, (probs, feats) in enumerate(maps):
            np.testing.assert_array_equal(out[s], alges_embedding(probs, feats, variant))
    assert alges_embeddings(iter([])).shape == (0, 0)


def test_embeddings_reject_images_with_other_classes_and_name_the_image():
    a, b = _random_maps(C=4), _random_maps(C=3, seed=1)
    with pytest.raises(ValueError, match="image 1 gives an embedding of length 9"):
        alges_embeddings([a, b])
    bad = (np.log(a[0]), a[1])
    with pytest.raises(ValueError, match="image 1: probs must be softmax probabilities.*logits"):
        alges_embeddings([a, bad])


def test_memory_arithmetic_matches_the_module_docstring():
    """512 × 512, C = 19, D = 256, float32: the numbers written in the docstring are these."""
    b = alges_bytes(512, 512, 19, 256)
    assert b == {"naive": 262_144 * 19 * 256 * 4, "image": (65_536 * 275 + 19 * 256) * 4,
                 "semantic": (2 * 65_536 * 275 + 19 * 19 * 256) * 4}
    doc = alges.__doc__.replace("\n", " ")
    for v in (b["naive"], b["image"], b["semantic"], b["naive"] // 4, b["image"] // 4, b["semantic"] // 4):
        assert f"{v:,}" in doc
    assert alges_bytes(10, 10, 2, 3)["image"] == (100 * 5 + 6) * 4  # chunk capped at P
