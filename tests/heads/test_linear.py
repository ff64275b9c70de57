import numpy as np
import torch

from al_bench.heads import expected_calibration_error, fit_temperature, nll
from al_bench.heads.linear import LinearHead, LinearSettings


def test_head_is_deterministic_and_learns(blobs):
    x, y = blobs
    a = LinearHead(8, 3, LinearSettings(), seed=1).fit(x[:200], y[:200])
    b = LinearHead(8, 3, LinearSettings(), seed=1).fit(x[:200], y[:200])
    np.testing.assert_array_equal(a.logits(x), b.logits(x))
    assert (a.predict_proba(x[200:]).argmax(1) == y[200:]).mean() > 0.9


def test_minibatch_training_is_deterministic(blobs):
    x, y = blobs
    s = LinearSettings(batch_size=32, steps=50)
    a = LinearHead(8, 3, s, seed=5).fit(x, y).logits(x)
    b = LinearHead(8, 3, s, seed=5).fit(x, y).logits(x)
    np.testing.assert_array_equal(a, b)


def test_temperature_scaling_lowers_nll_of_an_overconfident_model():
    rng = np.random.default_rng(1)  # overlapping classes, so confidence can be wrong
    y = rng.integers(0, 3, 300)
    x = (rng.normal(0, 1.0, (3, 8))[y] + rng.normal(size=(300, 8))).astype(np.float32)
    head = LinearHead(8, 3, LinearSettings(), seed=0).fit(x[:60], y[:60])
    cal_logits = 8.0 * head.logits(x[60:180])  # deliberately over-confident
    t = fit_temperature(cal_logits, y[60:180])
    assert t > 2.0
    test_logits = 8.0 * head.logits(x[180:])
    assert nll(test_logits, y[180:], t) < nll(test_logits, y[180:], 1.0)
    # and the fitted T is the NLL minimiser on the calibration data
    for other in (t * 0.8, t * 1.25):
        assert nll(cal_logits, y[60:180], t) <= nll(cal_logits, y[60:180], other) + 1e-9


def test_ece_hand_values():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    # bin 0.9: acc 0.5 vs conf 0.9 → 0.4 · 0.5; bin 0.6: acc 1 vs conf 0.6 → 0.4 · 0.5
    assert abs(expected_calibration_error(probs, y, 10) - 0.4) < 1e-12


def test_sample_proba_uses_one_mask_per_pass(blobs):
    x, y = blobs
    head = LinearHead(8, 3, LinearSettings(dropout=0.5), seed=0).fit(x, y)
    mc = head.sample_proba(x[:50], k=6, seed=3, chunk=16)
    assert mc.shape == (6, 50, 3)
    np.testing.assert_allclose(mc.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(mc, head.sample_proba(x[:50], k=6, seed=3, chunk=16))
    np.testing.assert_allclose(mc, head.sample_proba(x[:50], k=6, seed=3), rtol=1e-4, atol=1e-6)
    assert not np.allclose(mc[0], mc[1])
    # pass k equals a deterministic forward pass with one masked weight matrix
    g = torch.Generator().manual_seed(3)
    masks = (torch.rand(6, 8, generator=g) < 0.5).float() / 0.5
    logits = x[:50] @ (head.weight * masks[2]).numpy().T + head.bias.numpy()
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(mc[2], e / e.sum(1, keepdims=True), atol=1e-5)


def test_gradient_factors_match_autograd(blobs):
    x, y = blobs
    head = LinearHead(8, 3, LinearSettings(), seed=0).fit(x[:100], y[:100])
    a, xb = head.gradient_factors(x[:5])
    for i in range(5):
        w = head.weight.clone().requires_grad_(True)
        b = head.bias.clone().requires_grad_(True)
        logits = torch.as_tensor(x[i]) @ w.T + b
        yhat = logits.argmax()
        torch.nn.functional.cross_entropy(logits[None], yhat[None]).backward()
        explicit = np.concatenate([w.grad.numpy(), b.grad.numpy()[:, None]], axis=1)
        np.testing.assert_allclose(np.outer(a[i], xb[i]), explicit, atol=1e-5)


def test_feature_dropout_draws_a_mask_per_point_and_pass():
    """Hand-set weights: pass k of point i is softmax(((x_i ⊙ mask_ik) / keep) W^T + b) with the
    masks of one PCG64 stream drawn point by point ((M, d) uniforms each), whatever the chunks."""
    from al_bench.heads import point_dropout_proba

    rng = np.random.default_rng(0)
    head = LinearHead(6, 3, LinearSettings(dropout=0.1), seed=0)
    head.weight = torch.from_numpy(rng.normal(size=(3, 6)).astype(np.float32))
    head.bias = torch.from_numpy(rng.normal(size=3).astype(np.float32))
    head.temperature = 1.5
    x = np.repeat(rng.normal(size=(1, 6)).astype(np.float32), 40, axis=0)  # 40 copies of one point
    got = head.feature_dropout_proba(x, 4, 0.6, seed=11)
    assert got.shape == (4, 40, 3) and got.dtype == np.float32
    u = np.random.Generator(np.random.PCG64(11)).random((40, 4, 6), dtype=np.float32)
    z = (np.where(u < 0.4, x[:, None, :] / 0.4, 0.0) @ head.weight.numpy().T.astype(np.float64)
         + head.bias.numpy()) / 1.5
    want = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(got, (want / want.sum(-1, keepdims=True)).transpose(1, 0, 2), atol=1e-5)
    assert np.unique(got[0].round(5), axis=0).shape[0] > 5  # the copies got different masks in a pass
    small = point_dropout_proba(x, head.weight.numpy(), head.bias.numpy(), 1.5, 4, 0.6, 11, chunk_elems=50)
    np.testing.assert_allclose(small, got, atol=1e-6)  # 2 points a chunk: the same masks
    np.testing.assert_array_equal(got, head.feature_dropout_proba(x, 4, 0.6, seed=11))
    assert not np.allclose(got, head.feature_dropout_proba(x, 4, 0.6, seed=12))
    # rate 0: every pass is the deterministic prediction
    np.testing.assert_allclose(head.feature_dropout_proba(x[:3], 2, 0.0, seed=1),
                               np.stack([head.predict_proba(x[:3])] * 2), atol=1e-6)


def test_the_fit_depends_on_the_labeled_set_not_on_its_row_order():
    """Same rows and labels in another order → bit-identical weights and probabilities (minibatch
    order and dropout masks are drawn in a canonical row order). Before, the same labeled set
    fed in purchase order by two strategies could differ by a percentage point of accuracy."""
    from al_bench.heads.linear import LinearHead, LinearSettings

    rng = np.random.default_rng(0)
    for n in (40, 700):  # full batch, and minibatches of 512
        x = rng.normal(size=(n, 16)).astype(np.float32)
        y = rng.integers(0, 4, n)
        test = rng.normal(size=(50, 16)).astype(np.float32)
        s = LinearSettings(steps=60)
        a = LinearHead(16, 4, s, seed=3).fit(x, y)
        for _ in range(3):
            p = rng.permutation(n)
            b = LinearHead(16, 4, s, seed=3).fit(x[p], y[p])
            assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
            np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(test))
        assert not torch.equal(a.weight, LinearHead(16, 4, s, seed=4).fit(x, y).weight)  # the seed still matters


def test_canonical_order_is_a_function_of_the_rows_and_labels():
    from al_bench.heads._common import canonical_order

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 7)).astype(np.float32)
    x[10] = x[20]  # equal rows: told apart by label, or interchangeable
    y = rng.integers(0, 3, 200)
    y[10], y[20] = 0, 1
    o = canonical_order(x, y)
    assert sorted(o.tolist()) == list(range(200))
    for _ in range(3):
        p = rng.permutation(200)
        q = canonical_order(x[p], y[p])
        np.testing.assert_array_equal(x[p][q], x[o])
        np.testing.assert_array_equal(y[p][q], y[o])


def test_uint16_draws_equal_numpys_integers_and_leave_the_same_state():
    from al_bench.heads._common import uint16_draws

    picker = np.random.default_rng(7)
    for _ in range(60):
        seed = int(picker.integers(0, 1000))
        a, b = np.random.Generator(np.random.PCG64(seed)), np.random.Generator(np.random.PCG64(seed))
        for _ in range(5):
            # permutation and 32-bit draws leave a buffered half-output behind some of the time
            k = int(picker.integers(1, 300))
            np.testing.assert_array_equal(a.permutation(k), b.permutation(k))
            count = int(picker.integers(0, 100))
            np.testing.assert_array_equal(a.integers(0, 65536, count, dtype=np.uint16), uint16_draws(b, count))
            np.testing.assert_array_equal(a.integers(0, 2**32 - 1, 3, dtype=np.uint32),
                                          b.integers(0, 2**32 - 1, 3, dtype=np.uint32))
        np.testing.assert_array_equal(a.random(5), b.random(5))  # the streams go on alike


def test_canonical_order_is_the_lexsort_of_the_row_hash_by_blocks():
    from al_bench.heads._common import _ROW_HASH, canonical_order

    x = np.random.default_rng(2).normal(size=(3000, 40)).astype(np.float32)  # more rows than one block
    y = np.arange(3000) % 3
    bits = x.view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = (bits * _ROW_HASH[:40]).sum(axis=1, dtype=np.uint64)  # the whole-array definition
    np.testing.assert_array_equal(canonical_order(x, y), np.lexsort((y, h)))


def test_a_standardizing_head_ignores_the_units_of_each_feature():
    """Standardized inputs: rescaling and shifting a feature (in training and test alike) leaves the
    predictions as they were, up to float rounding; the plain head's change. (No dropout: the
    masks follow the rows' canonical order, which the rescaled rows' bits change.)"""
    rng = np.random.default_rng(5)
    y = np.arange(120) % 3
    x = (rng.normal(0, 2, (3, 6))[y] + rng.normal(size=(120, 6))).astype(np.float32)
    test = (rng.normal(0, 2, (3, 6))[np.arange(30) % 3] + rng.normal(size=(30, 6))).astype(np.float32)
    scale = np.array([1000.0, 0.001, 1.0, 50.0, 1.0, 1.0], np.float32)
    shift = np.array([0.0, 7.0, -300.0, 0.0, 0.0, 2.0], np.float32)
    for std, same in ((True, True), (False, False)):
        s = LinearSettings(steps=100, standardize=std, dropout=0.0)
        a = LinearHead(6, 3, s, seed=1).fit(x, y).predict_proba(test)
        b = LinearHead(6, 3, s, seed=1).fit(x * scale + shift, y).predict_proba(test * scale + shift)
        assert np.allclose(a, b, atol=1e-3) == same
