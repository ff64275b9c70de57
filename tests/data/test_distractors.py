"""dataset.distractors: the classes named stay in the pool and leave the test and calibration
splits; unknown names and every class are one-line user errors; the config key round-trips."""

import numpy as np
import pytest

from al_bench.cli.run import ConfigCheckError, settings_from
from al_bench.data import make_split
from al_bench.errors import UserError
from al_bench.run import without_distractors
from support import compose_config


def test_the_named_classes_leave_test_and_calibration_only():
    y = np.repeat(np.arange(4), 50)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.2)
    out = without_distractors(split, y, ["a", "b", "c", "d"], ("d",))
    np.testing.assert_array_equal(out.pool, split.pool)
    assert 3 in y[out.pool] and 3 not in y[out.test] and 3 not in y[out.calibration]
    np.testing.assert_array_equal(out.test, split.test[y[split.test] != 3])
    assert without_distractors(split, y, ["a", "b", "c", "d"], ()) is split


def test_unknown_or_every_class_is_a_user_error():
    y = np.repeat(np.arange(3), 20)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.2)
    with pytest.raises(UserError, match=r"unknown class\(es\) \['z'\]; the classes are \['a', 'b', 'c'\]"):
        without_distractors(split, y, ["a", "b", "c"], ("z",))
    with pytest.raises(UserError, match="every class is a distractor"):
        without_distractors(split, y, ["a", "b", "c"], ("a", "b", "c"))


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_config_key_reads_names_and_numbers():
    assert settings_from(compose_config("dataset.distractors=[9,cat]"))[0].dataset.distractors == ("9", "cat")
    assert settings_from(compose_config())[0].dataset.distractors == ()
    with pytest.raises(ConfigCheckError, match="a class named twice"):
        settings_from(compose_config("dataset.distractors=[1,1]"))
