"""The segmentation model provider on real torch models saved to real files, and real PNGs."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from al_bench.data.images import ImageFiles
from al_bench.errors import UserError
from al_bench.segmentation.alges import alges_embedding
from al_bench.segmentation.provider import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SegmentationModel,
    batch_seed,
    load_segmentation_model,
    run_provider,
)

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

ARCH = "lraspp_mobilenet_v3_large"
H, W = 48, 64


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These tensors are tiny: with the cores shared by other jobs, a second intra-op thread only
    waits at barriers. One thread while this module runs, then the previous setting again."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_pngs(folder: Path, sizes, seed: int = 0) -> ImageFiles:
    """PNGs with smooth colour ramps plus noise (so a model's outputs vary across pixels and images)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i, (h, w) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w) + 60 * i], -1)
        img = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        names.append(f"img_{i}.png")
        Image.fromarray(img).save(folder / names[-1])
    return ImageFiles(folder, names)


def pixels(images: ImageFiles, idx, size=None) -> torch.Tensor:
    """The test's own preprocessing: decode, resize (bilinear), [0, 1], ImageNet mean/std → (B, 3, H, W)."""
    rows = []
    for i in idx:
        im = Image.open(images.path(i)).convert("RGB")
        if size is not None:
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        rows.append(np.asarray(im, np.float32) / 255.0)
    x = torch.from_numpy(np.stack(rows)).permute(0, 3, 1, 2)
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def pixel_entropy_mean(probs: torch.Tensor) -> np.ndarray:
    """Mean over pixels of −Σ_c p log p, per image, from (B, C, H, W)."""
    p = probs.double()
    return (-(p * torch.log(p.clamp_min(1e-300))).sum(1)).mean((1, 2)).numpy()


class Tiny(nn.Module):
    """stem conv with 4 outputs (not the last such), a stride-2 body, optional dropout, a 1 × 1 head
    (the last 4-output conv) and an unused ``aux_classifier`` registered after it."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.drop = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.head = nn.Conv2d(8, 4, 1)
        self.aux_classifier = nn.Conv2d(8, 4, 1)
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            self.body[1].running_mean.copy_(torch.randn(8, generator=g) * 0.1)
            self.body[1].running_var.copy_(torch.rand(8, generator=g) + 0.5)
            self.head.weight.mul_(4.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.body(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class TinyTuple(Tiny):
    """Hands the head's inputs out itself: (logits, feats)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.head(h), h


class Counting(Tiny):
    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        Counting.calls += 1
        return super().forward(x)


def tiny(cls=Tiny, **kw) -> nn.Module:
    torch.manual_seed(1)
    return cls(**kw).eval()


@pytest.fixture(scope="module")
def lraspp():
    """A random LRASPP with made-up BatchNorm statistics and sharper classifiers, so that its
    probabilities vary from pixel to pixel (plain random init gives near-uniform maps)."""
    torch.manual_seed(0)
    from torchvision.models import segmentation

    m = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_((torch.rand(mod.num_features, generator=g) - 0.5) * 0.4)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
        for conv in (m.classifier.low_classifier, m.classifier.high_classifier):
            conv.weight.mul_(20.0)
    return m


def save_export(net: nn.Module, path: Path, batch: int = 4) -> None:
    """``torch.export`` the network for (batch, 3, 48, 64) inputs and save the program."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(net, (torch.zeros(batch, 3, H, W),))
    torch.export.save(program, str(path))


@pytest.fixture(scope="module")
def state_file(lraspp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "lraspp_state.pt"
    torch.save(lraspp.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def by_name(state_file):
    """The LRASPP loaded by architecture name + state dict file."""
    return load_segmentation_model(state_file, arch=ARCH)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> Path:
    """The tiny network as TorchScript (scripted) and as a torch.export program (batch 4, 48 × 64)."""
    d = tmp_path_factory.mktemp("tiny")
    torch.jit.script(tiny()).save(str(d / "tiny_script.pt"))
    save_export(tiny(), d / "tiny.pt2")
    return d


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> ImageFiles:
    """Four 48 × 64 PNGs: one batch of 4, the only input shape the LRASPP tests use (CPU kernels
    warm up once per shape, which costs far more than the passes themselves)."""
    return write_pngs(tmp_path_factory.mktemp("imgs"), [(H, W)] * 4)


@pytest.fixture(scope="module")
def images6(tmp_path_factory) -> ImageFiles:
    """Six PNGs for the tiny models (batches of 4 and 2)."""
    return write_pngs(tmp_path_factory.mktemp("imgs6"), [(H, W)] * 6, seed=1)


# -- loading and agreement ------------------------------------------------------------------------
@pytest.mark.slow  # scripting, exporting and loading LRASPP, then warming up three runtimes
def test_three_loaders_give_the_same_lraspp_probabilities_and_scores(lraspp, by_name, images, tmp_path):
    torch.jit.script(lraspp).save(str(tmp_path / "lraspp_script.pt"))
    save_export(lraspp, tmp_path / "lraspp.pt2")
    scripted = load_segmentation_model(tmp_path / "lraspp_script.pt")
    exported = load_segmentation_model(tmp_path / "lraspp.pt2")
    assert (by_name.kind, scripted.kind, exported.kind) == ("torchvision", "torchscript", "export")
    x = pixels(images, range(4))
    with torch.inference_mode():
        want = lraspp(x)["out"].softmax(1)
        for m in (by_name, scripted, exported):
            torch.testing.assert_close(m.infer(x).probs, want, rtol=1e-4, atol=1e-5)
    expected = pixel_entropy_mean(want)
    for m in (by_name, scripted, exported):
        np.testing.assert_allclose(run_provider(m, images, progress=False).scores, expected, rtol=1e-5)
    with pytest.raises(UserError, match=r"lraspp\.pt2: ALGES needs the last layer's inputs.*\(logits, feats\)"):
        run_provider(exported, images, alges=("image",), progress=False)


@pytest.mark.slow  # a torchvision LRASPP (≈2 s to build and warm up); the tiny network covers the fast tier
def test_lraspp_by_name_matches_the_network_and_its_entropy(lraspp, by_name, images):
    assert by_name.kind == "torchvision" and by_name.num_classes == 3  # read off the state dict's classifier
    x = pixels(images, range(4))
    with torch.inference_mode():
        want = lraspp(x)["out"].softmax(1)
        got = by_name.infer(x).probs
    assert got.shape == (4, 3, H, W)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert float(want.std()) > 0.05  # the maps are not flat: the comparison means something
    expected = pixel_entropy_mean(want)  # from the network's own output and the test's own decoding
    out = run_provider(by_name, images, progress=False)
    assert out.ids == images.relpaths
    np.testing.assert_allclose(out.scores, expected, rtol=1e-5)
    assert np.ptp(expected) > 1e-3


def test_tiny_network_as_module_torchscript_and_export_agree(tiny_files, images6):
    net = tiny()
    scripted = load_segmentation_model(tiny_files / "tiny_script.pt")
    exported = load_segmentation_model(tiny_files / "tiny.pt2")
    assert (scripted.kind, exported.kind) == ("torchscript", "export")
    assert exported.fixed_input() == (4, H, W)
    x = pixels(images6, range(4))
    with torch.inference_mode():
        want = F.interpolate(net(x), size=(H, W), mode="bilinear", align_corners=False).softmax(1)
        for m in (scripted, exported):
            torch.testing.assert_close(m.infer(x).probs, want, rtol=1e-4, atol=1e-6)
        rest = F.interpolate(net(pixels(images6, range(4, 6))), size=(H, W), mode="bilinear",
                             align_corners=False).softmax(1)
    expected = pixel_entropy_mean(torch.cat([want, rest]))
    plain = run_provider(net, images6, batch_size=4, progress=False)  # batches of 4 and 2
    scripted_out = run_provider(scripted, images6, batch_size=4, progress=False)
    exported_out = run_provider(exported, images6, batch_size=3, progress=False)  # the program's batch of 4 wins
    for out in (plain, scripted_out, exported_out):  # the program's last batch of 2 is padded to 4
        np.testing.assert_allclose(out.scores, expected, rtol=1e-5)
    assert plain.pooled.shape == (6, 8) and scripted_out.pooled is None and exported_out.pooled is None
    with pytest.raises(UserError, match=r"tiny\.pt2: ALGES needs the last layer's inputs.*\(logits, feats\)"):
        run_provider(exported, images6, alges=("image",), progress=False)
    with pytest.raises(UserError, match="no forward hooks"):
        SegmentationModel(exported.program, hook_layer="head")


@pytest.mark.slow  # a torchvision LRASPP (≈2 s to build and warm up); the tiny network covers the fast tier
def test_reduce_topk_and_max_follow_the_pixel_map(lraspp, by_name, images):
    with torch.inference_mode():
        p = lraspp(pixels(images, range(4)))["out"].softmax(1).double()
    u = (-(p * p.log()).sum(1)).reshape(4, -1).numpy()
    k = int(np.ceil(0.25 * u.shape[1]))
    topk = np.sort(u, axis=1)[:, -k:].mean(1)
    np.testing.assert_allclose(run_provider(by_name, images, reduce="topk", topk_fraction=0.25, progress=False).scores,
                               topk, rtol=1e-5)
    np.testing.assert_allclose(run_provider(by_name, images, reduce="max", progress=False).scores, u.max(1),
                               rtol=1e-5)


# -- the last layer's inputs ----------------------------------------------------------------------
@pytest.mark.slow  # a torchvision LRASPP (≈2 s to build and warm up); the tiny network covers the fast tier
def test_hook_on_lraspp_captures_the_high_classifier_inputs(lraspp, by_name, images):
    model = by_name
    x = pixels(images, range(4))
    with torch.inference_mode():
        inf = model.infer(x)
        f = lraspp.backbone(x)  # the head by hand: what high_classifier receives
        head = lraspp.classifier
        h = head.cbr(f["high"]) * head.scale(f["high"])
        h = F.interpolate(h, size=f["low"].shape[-2:], mode="bilinear", align_corners=False)
        probs = lraspp(x)["out"].softmax(1)
    assert inf.layer == "classifier.high_classifier"
    assert inf.feats.shape == (4, 128, H // 8, W // 8)
    torch.testing.assert_close(inf.feats, h, rtol=1e-4, atol=1e-5)
    # LRASPP's logits are low_classifier + high_classifier: the hooked output is not all of them
    assert inf.layer_probs_from == "resized_probs"
    torch.testing.assert_close(inf.layer_probs, F.interpolate(probs, size=h.shape[-2:], mode="area"),
                               rtol=1e-4, atol=1e-6)

    out = run_provider(model, images, alges=("image", "semantic"), progress=False)
    assert out.info["layer"] == "classifier.high_classifier" and out.info["layer_probs_from"] == "resized_probs"
    np.testing.assert_allclose(out.pooled, h.mean((2, 3)).numpy(), rtol=1e-4, atol=1e-6)
    lp = F.interpolate(probs, size=h.shape[-2:], mode="area")
    for j in range(4):
        np.testing.assert_allclose(out.alges["image"][j], alges_embedding(lp[j].numpy(), h[j].numpy(), "image"),
                                   rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(out.alges["semantic"][j],
                                   alges_embedding(lp[j].numpy(), h[j].numpy(), "semantic"), rtol=1e-3, atol=1e-6)
    assert out.alges["image"].shape == (4, 3 * 128) and out.alges["semantic"].shape == (4, 3 * 3 * 128)


def test_hook_on_a_single_classifier_conv_uses_its_logits(images):
    model = SegmentationModel(tiny())
    x = pixels(images, range(2))
    with torch.inference_mode():
        inf = model.infer(x)
        h = model.module.features(x)
        z = model.module.head(h)
    # the last 4-output conv by registration, leaving out aux_classifier (registered later)
    assert inf.layer == "head" and inf.layer_probs_from == "hooked_logits"
    torch.testing.assert_close(inf.feats, h)
    torch.testing.assert_close(inf.layer_probs, z.softmax(1))
    up = F.interpolate(z, size=(H, W), mode="bilinear", align_corners=False).softmax(1)
    torch.testing.assert_close(inf.probs, up)  # logits at half resolution are upsampled to the input

    named = SegmentationModel(tiny(), hook_layer="body.0")
    with torch.inference_mode():
        inf = named.infer(x)
    assert inf.layer == "body.0" and inf.layer_probs_from == "resized_probs"
    torch.testing.assert_close(inf.feats, model.module.stem(x))
    with pytest.raises(UserError, match=r"hook_layer=bdy\.0: .*no such layer \(close: body\.0"):
        SegmentationModel(tiny(), hook_layer="bdy.0").infer(x)


def test_models_that_return_their_features_give_the_same_alges(images6, tmp_path):
    images = images6
    hooked = run_provider(SegmentationModel(tiny()), images, alges=("image",), progress=False)
    scripted_path = tmp_path / "tiny_tuple.pt"
    torch.jit.script(tiny(TinyTuple)).save(str(scripted_path))
    scripted = load_segmentation_model(scripted_path)
    assert not scripted.hookable
    out = run_provider(scripted, images, alges=("image",), progress=False)
    assert out.info["layer"] == "model output" and out.info["layer_probs_from"] == "model_logits"
    np.testing.assert_allclose(out.alges["image"], hooked.alges["image"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out.pooled, hooked.pooled, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out.scores, hooked.scores, rtol=1e-5)


def test_images_of_different_sizes_are_batched_by_size_or_resized(tmp_path):
    sizes = [(H, W), (40, 56), (H, W), (40, 56), (H, W)]
    imgs = write_pngs(tmp_path / "mixed", sizes, seed=5)
    net = tiny()
    want = []
    with torch.inference_mode():
        for i in range(len(sizes)):  # each image alone at its own size
            z = net(pixels(imgs, [i]))
            want.append(pixel_entropy_mean(F.interpolate(z, size=sizes[i], mode="bilinear",
                                                         align_corners=False).softmax(1))[0])
        resized = pixel_entropy_mean(F.interpolate(net(pixels(imgs, range(5), size=(32, 40))), size=(32, 40),
                                                   mode="bilinear", align_corners=False).softmax(1))
    out = run_provider(net, imgs, batch_size=4, progress=False)
    np.testing.assert_allclose(out.scores, want, rtol=1e-5)
    out = run_provider(net, imgs, image_size=(32, 40), progress=False)
    np.testing.assert_allclose(out.scores, resized, rtol=1e-5)
    # an in-memory (N, H, W, 3) uint8 array works as the files do, ids being positions
    arr = np.stack([np.asarray(Image.open(imgs.path(i)).convert("RGB")) for i in (0, 2, 4)])
    out = run_provider(net, arr, progress=False)
    assert out.ids == ("0", "1", "2")
    np.testing.assert_allclose(out.scores, np.asarray(want)[[0, 2, 4]], rtol=1e-5)


# -- MC dropout -----------------------------------------------------------------------------------
def test_mc_dropout_samples_differ_per_pass_and_repeat_per_seed(images6):
    images = images6
    model = SegmentationModel(tiny(dropout=0.5))
    assert model.has_dropout and model.dropout_layers == ["drop"]
    x = pixels(images, range(2))
    bn = model.module.body[1]
    bn_mean = bn.running_mean.clone()
    rng_state = torch.get_rng_state()
    with torch.inference_mode():
        a = model.mc_probs(x, 4, seed=7)
        b = model.mc_probs(x, 4, seed=7)
        c = model.mc_probs(x, 4, seed=8)
        plain = model.infer(x).probs
    assert a.shape == (4, 2, 4, H, W)
    assert float((a[0] - a[1]).abs().max()) > 1e-3  # passes differ
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # same seed, same samples
    assert float((a - c).abs().max()) > 1e-3
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global stream is left alone
    assert not model.module.drop.training and not bn.training and torch.equal(bn.running_mean, bn_mean)
    assert float((plain - a.mean(0)).abs().max()) > 1e-4  # the deterministic pass has dropout off

    first = run_provider(model, images, provider="bald", mc_samples=4, seed=3, batch_size=4, progress=False)
    again = run_provider(model, images, provider="bald", mc_samples=4, seed=3, batch_size=4, progress=False)
    other = run_provider(model, images, provider="bald", mc_samples=4, seed=4, batch_size=4, progress=False)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert not np.array_equal(first.scores, other.scores)
    mc = run_provider(model, images, provider="mc_dropout", mc_samples=4, seed=3, batch_size=4, progress=False)
    # by hand from the samples the provider draws: batches of images 0-3 and 4-5, each seeded by batch_seed
    with torch.inference_mode():
        k = torch.cat([model.mc_probs(pixels(images, range(0, 4)), 4, batch_seed(3, 0)),
                       model.mc_probs(pixels(images, range(4, 6)), 4, batch_seed(3, 4))], dim=1).double()
    mean = k.mean(0)
    h_mean = (-(mean * mean.clamp_min(1e-300).log()).sum(1)).mean((1, 2)).numpy()
    np.testing.assert_allclose(mc.scores, h_mean, rtol=1e-5)  # entropy of the mean of the K passes
    pixel_bald = (-(mean * mean.clamp_min(1e-300).log()).sum(1) + (k * k.clamp_min(1e-300).log()).sum(2).mean(0))
    np.testing.assert_allclose(first.scores, pixel_bald.clamp_min(0).mean((1, 2)).numpy(), rtol=1e-4, atol=1e-7)
    assert (first.scores > 0).all() and (first.scores < mc.scores).all()


def test_mc_dropout_in_torchscript_only_when_scripted(tmp_path, images):
    net = tiny(dropout=0.5)
    torch.jit.script(net).save(str(tmp_path / "scripted.pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(net, pixels(images, [0])).save(str(tmp_path / "traced.pt"))
    scripted = load_segmentation_model(tmp_path / "scripted.pt")
    assert scripted.has_dropout
    with torch.inference_mode():
        s = scripted.mc_probs(pixels(images, [0]), 2, seed=0)
    assert float((s[0] - s[1]).abs().max()) > 1e-3
    assert not load_segmentation_model(tmp_path / "traced.pt").has_dropout  # tracing froze training=False


@pytest.mark.slow  # a torchvision LRASPP (≈2 s to build and warm up); the tiny network covers the fast tier
def test_mc_dropout_without_dropout_is_a_user_error(by_name, images):
    model = by_name
    assert not model.has_dropout
    for provider in ("mc_dropout", "bald"):
        with pytest.raises(UserError, match=r"no dropout layer.*provider=entropy") as err:
            run_provider(model, images, provider=provider, progress=False)
        assert "\n" not in str(err.value)


# -- cache ----------------------------------------------------------------------------------------
def test_cache_hit_skips_the_model_and_a_changed_image_invalidates_it(tmp_path, caplog):
    imgs = write_pngs(tmp_path / "imgs", [(H, W)] * 4, seed=2)
    cache_dir = tmp_path / "cache"
    model = SegmentationModel(tiny(Counting))
    Counting.calls = 0
    first = run_provider(model, imgs, alges=("image",), cache_dir=cache_dir, progress=False)
    n_calls = Counting.calls
    assert n_calls > 0 and not first.from_cache and first.cache_file.is_file()
    second = run_provider(model, imgs, alges=("image",), cache_dir=cache_dir, progress=False)
    assert Counting.calls == n_calls and second.from_cache and second.cache_file == first.cache_file
    np.testing.assert_array_equal(second.scores, first.scores)
    np.testing.assert_array_equal(second.alges["image"], first.alges["image"])
    np.testing.assert_array_equal(second.pooled, first.pooled)
    assert second.info["layer"] == "head"

    other = run_provider(model, imgs, reduce="max", cache_dir=cache_dir, progress=False)  # other settings
    assert not other.from_cache and other.cache_file != first.cache_file

    # a damaged entry is named in a warning and recomputed
    first.cache_file.write_bytes(b"not an npz")
    calls = Counting.calls
    with caplog.at_level(logging.WARNING):
        redone = run_provider(model, imgs, alges=("image",), cache_dir=cache_dir, progress=False)
    assert Counting.calls > calls and not redone.from_cache
    assert any(str(first.cache_file) in r.getMessage() and "not used" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(redone.scores, first.scores)

    # an edited image: new content, size and modification time
    st = os.stat(imgs.path(2))
    write_pngs(tmp_path / "edit", [(H, W)], seed=9)
    os.replace(tmp_path / "edit" / "img_0.png", imgs.path(2))
    os.utime(imgs.path(2), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    calls = Counting.calls
    changed = run_provider(model, imgs, alges=("image",), cache_dir=cache_dir, progress=False)
    assert Counting.calls > calls and not changed.from_cache and changed.cache_file != first.cache_file
    assert changed.scores[2] != first.scores[2]
    np.testing.assert_array_equal(changed.scores[[0, 1, 3]], first.scores[[0, 1, 3]])


def test_cache_key_covers_the_model_file(tmp_path, images6):
    cache_dir = tmp_path / "cache"
    net = tiny()
    torch.jit.script(net).save(str(tmp_path / "a.pt"))
    a = run_provider(load_segmentation_model(tmp_path / "a.pt"), images6, cache_dir=cache_dir, progress=False)
    with torch.no_grad():
        net.head.bias[0] += 1.0  # one class's bias: the probabilities change
    torch.jit.script(net).save(str(tmp_path / "b.pt"))
    b = run_provider(load_segmentation_model(tmp_path / "b.pt"), images6, cache_dir=cache_dir, progress=False)
    assert not b.from_cache and b.cache_file != a.cache_file and not np.allclose(a.scores, b.scores)
    again = run_provider(load_segmentation_model(tmp_path / "a.pt"), images6, cache_dir=cache_dir, progress=False)
    assert again.from_cache and again.cache_file == a.cache_file
    np.testing.assert_array_equal(again.scores, a.scores)


def test_cache_key_covers_what_the_weights_do_not_say_and_the_file_as_loaded(tmp_path, images6):
    cache_dir = tmp_path / "cache"
    lo, hi = tiny(dropout=0.1), tiny(dropout=0.6)
    hi.load_state_dict(lo.state_dict())  # same weights, another dropout rate
    a = run_provider(SegmentationModel(lo), images6, provider="bald", mc_samples=3, cache_dir=cache_dir, progress=False)
    b = run_provider(SegmentationModel(hi), images6, provider="bald", mc_samples=3, cache_dir=cache_dir, progress=False)
    assert not b.from_cache and not np.allclose(a.scores, b.scores)
    # a file rewritten after loading: the outputs are stored under the bytes that were loaded
    net = tiny()
    torch.jit.script(net).save(str(tmp_path / "m.pt"))
    loaded = load_segmentation_model(tmp_path / "m.pt")
    with torch.no_grad():
        net.head.bias[0] += 1.0
    torch.jit.script(net).save(str(tmp_path / "m.pt"))
    old = run_provider(loaded, images6, cache_dir=cache_dir, progress=False)
    new = run_provider(load_segmentation_model(tmp_path / "m.pt"), images6, cache_dir=cache_dir, progress=False)
    assert not new.from_cache and not np.allclose(old.scores, new.scores)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_bad_files_give_one_line_user_errors(state_file, tiny_files, tmp_path, images):
    png = images.path(0)
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    pickled = tmp_path / "pickled_module.pt"
    torch.save(tiny(), pickled)
    cases = [
        (dict(path=tmp_path / "missing.pt"), r"missing\.pt: no such file"),
        (dict(path=png), r"img_0\.png: not a torch file"),
        (dict(path=text), r"notes\.pt: not a torch file"),
        (dict(path=state_file), r"lraspp_state\.pt: is a state dict.*arch=NAME.*lraspp_mobilenet"),
        (dict(path=state_file, arch="unet"), r"arch=unet: not a torchvision .*fcn_resnet50"),
        (dict(path=tiny_files / "tiny_script.pt", arch=ARCH), r"tiny_script\.pt: is a TorchScript file"),
        (dict(path=tiny_files / "tiny.pt2", arch=ARCH), r"tiny\.pt2: is a torch\.export program"),
        (dict(path=state_file, arch="deeplabv3_mobilenet_v3_large"),
         r"does not match deeplabv3_mobilenet_v3_large\(num_classes=21\): "
         r"\d+ key\(s\) missing.*\d+ key\(s\) unexpected"),
        (dict(path=state_file, arch=ARCH, num_classes=5),
         r"4 key\(s\) with another shape \(e\.g\. classifier\.low_classifier\.weight: file \(3, 40, 1, 1\)"),
        (dict(path=pickled, arch=ARCH), r"pickled_module\.pt: holds pickled Python objects"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(UserError, match=pattern) as err:
            load_segmentation_model(**kwargs)
        assert "\n" not in str(err.value), str(err.value)


def test_a_program_under_another_extension_still_loads(tiny_files, tmp_path, images6):
    # files are told apart by content: a torch.export archive named .pt loads as what it is
    renamed = tmp_path / "exported.pt"
    renamed.write_bytes((tiny_files / "tiny.pt2").read_bytes())
    model = load_segmentation_model(renamed)
    assert model.kind == "export" and model.fixed_input() == (4, H, W)
    x = pixels(images6, range(4))
    with torch.inference_mode():
        want = F.interpolate(tiny()(x), size=(H, W), mode="bilinear", align_corners=False).softmax(1)
        torch.testing.assert_close(model.infer(x).probs, want, rtol=1e-4, atol=1e-6)


def test_bad_options_and_inputs_are_user_errors(tiny_files, images, tmp_path):
    broken = write_pngs(tmp_path / "broken", [(H, W)] * 2)
    data = broken.path(1).read_bytes()
    broken.path(1).write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"broken/img_1\.png: unreadable image") as err:
        run_provider(tiny(), broken, image_size=(H, W), progress=False)
    assert "\n" not in str(err.value)
    exported = load_segmentation_model(tiny_files / "tiny.pt2")
    with pytest.raises(UserError, match=r"image_size=32: .*exported for 48×64"):
        run_provider(exported, images, image_size=32, progress=False)
    model = SegmentationModel(tiny())
    for kwargs, pattern in [(dict(provider="margin"), "provider=margin: choose one of entropy, mc_dropout, bald"),
                            (dict(batch_size=0), "batch_size=0"),
                            (dict(reduce="median"), "reduce"),
                            (dict(alges=("pixel",)), "ALGES variant"),
                            (dict(num_classes=5), None)]:
        if pattern is None:
            with pytest.raises(UserError, match=r"gives 4 classes, not num_classes=5"):
                run_provider(SegmentationModel(tiny(), num_classes=5), images, progress=False)
            continue
        with pytest.raises(UserError, match=pattern):
            run_provider(model, images, progress=False, **kwargs)
