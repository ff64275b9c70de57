"""Contract tests every registered head inherits: config file, settings, and the Head protocol
(fit, probabilities, temperature, MC samples, BALD, per-point dropout passes, gradient factors)
on tiny data."""

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml

from al_bench import scores
from al_bench.heads import HEADS, Head, build_head
from al_bench.options import parse

CONF = Path(__file__).resolve().parents[2] / "al_bench" / "conf" / "model"
# the smallest settings that still exercise each head (only keys the head declares)
TINY = {"steps": 3, "batch_size": 8, "image_size": 16, "device": "cpu", "dropout": 0.3}


def test_yaml_stems_equal_the_registry_and_keys_are_settings():
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == sorted(HEADS)
    for p in CONF.glob("*.yaml"):
        cfg = yaml.safe_load(p.read_text())
        assert cfg["name"] == p.stem
        settings = HEADS.entry(p.stem).settings
        extra = set(cfg) - {f.name for f in fields(settings)} - {"name", "temperature_scaling", "ece_bins", "weighting"}
        assert not extra, f"{p.name}: keys the head does not declare: {extra}"
        # the YAML's values are the dataclass defaults: config says what, the code agrees
        parsed = parse(settings, {k: v for k, v in cfg.items() if k in {f.name for f in fields(settings)}}, "model")
        assert parsed == settings()


def _data(inputs: str, n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    if inputs == "images":
        x = np.clip(rng.normal(60 + 60 * y[:, None, None, None], 20, (n, 12, 12, 3)), 0, 255).astype(np.uint8)
    else:
        x = (rng.normal(0, 3, (3, 6))[y] + rng.normal(size=(n, 6))).astype(np.float32)
    return x, y


# the end-to-end image head builds a ResNet: the slow tier
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if HEADS.entry(n).inputs == "images" else n
                                  for n in sorted(HEADS)])
def test_head_contract(name):
    entry = HEADS.entry(name)
    assert entry.inputs in ("features", "images")
    known = {f.name for f in fields(entry.settings)}
    settings = entry.settings(**{k: v for k, v in TINY.items() if k in known})
    x, y = _data(entry.inputs)
    head = build_head(name, settings, x.shape[-1], 3, seed=1)
    assert isinstance(head, Head)
    assert head.fit(x, y) is head
    logits = head.logits(x)
    assert logits.shape == (24, 3) and np.isfinite(logits).all()
    again = build_head(name, settings, x.shape[-1], 3, seed=1).fit(x, y)
    np.testing.assert_array_equal(again.logits(x), logits)  # deterministic for a seed
    p = head.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    head.temperature = 2.0  # a temperature flattens the probabilities, never reorders them
    p2 = head.predict_proba(x)
    assert (p2.max(1) <= p.max(1) + 1e-12).all() and (p2.argmax(1) == p.argmax(1)).all()
    mc = head.sample_proba(x, 4, seed=7)
    assert mc.shape == (4, 24, 3)
    np.testing.assert_allclose(mc.sum(-1), 1.0, atol=1e-5)
    rows = np.array([3, 0, 11])
    np.testing.assert_allclose(head.bald_scores(x, 4, seed=7, rows=rows), scores.bald(mc[:, rows]), atol=1e-5)
    fd = head.feature_dropout_proba(x, 3, 0.5, seed=2)  # per-point dropout passes (DropQuery)
    assert fd.shape == (3, 24, 3)
    np.testing.assert_allclose(fd.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(fd, head.feature_dropout_proba(x, 3, 0.5, seed=2))
    np.testing.assert_allclose(head.feature_dropout_proba(x, 2, 0.0, seed=2), np.stack([head.predict_proba(x)] * 2),
                               atol=1e-5)
    a, xb = head.gradient_factors(x)
    assert a.shape == (24, 3) and np.allclose(a.sum(1), 0, atol=1e-9) and np.allclose(xb[:, -1], 1)
