import numpy as np

from al_bench.data import load_dataset
from al_bench.data.loaders.digits import load_digits


def test_digits_are_images():
    ds = load_digits()
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.uint8
    assert ds.n_classes == 10 and len(set(ds.ids)) == 1797
    assert ds.images.max() == 255 and ds.ids[0] == "digits:0000" and ds.is_test is None
    assert load_dataset("digits").fingerprint() == ds.fingerprint()
