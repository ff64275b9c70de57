"""Named random streams (al_bench.rng): a stream depends only on the seed and its tags, streams
with different tags are independent, and no global random state is read or written."""

import random

import numpy as np

from al_bench.rng import stream, torch_seed


def test_same_seed_and_tags_give_the_same_stream():
    a = stream(7, "select", 3).random(100)
    b = stream(7, "select", 3).random(100)
    np.testing.assert_array_equal(a, b)


def test_every_tag_the_seed_and_the_tag_order_matter():
    first = stream(7, "select", 3).random(8)
    for other in (stream(7, "select", 4), stream(7, "split", 3), stream(8, "select", 3), stream(7, 3, "select"),
                  stream(7, "select"), stream(7)):
        assert not np.array_equal(first, other.random(8))


def test_streams_with_different_names_are_independent():
    a = stream(0, "split").standard_normal(20_000)
    b = stream(0, "select", 0).standard_normal(20_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03  # |r| of independent draws: sd 1/√20000 ≈ 0.007


def test_drawing_from_one_stream_does_not_move_another():
    fresh = stream(1, "select", 0).random(5)
    split = stream(1, "split")
    split.random(1000)  # e.g. the split draws more numbers
    np.testing.assert_array_equal(stream(1, "select", 0).random(5), fresh)


def test_no_global_random_state_is_touched():
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state(), random.getstate()
    stream(5, "a").random(10)
    torch_seed(5, "a")
    np_after = np.random.get_state()
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1]) and np_before[2:] == np_after[2:]
    assert random.getstate() == py_before
    # and global seeding does not change a stream
    x = stream(5, "a").random(3)
    np.random.seed(0)
    random.seed(0)
    np.testing.assert_array_equal(stream(5, "a").random(3), x)


def test_torch_seed_is_a_stable_63_bit_integer_per_name():
    s = torch_seed(11, "mc", 2)
    assert isinstance(s, int) and 0 <= s < 2**63
    assert torch_seed(11, "mc", 2) == s
    assert len({s, torch_seed(11, "mc", 3), torch_seed(12, "mc", 2), torch_seed(11, "fit", 2)}) == 4
