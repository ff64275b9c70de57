import pandas as pd
import pytest
from PIL import Image

from al_bench.report import plot_learning_curves


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_writes_a_png_atomically_and_makes_the_folder(curve_results, tmp_path):
    path = tmp_path / "figures" / "learning_curves.png"
    assert plot_learning_curves(curve_results, path) == path
    with Image.open(path) as im:
        assert im.format == "PNG"
        one_panel = im.size
    assert [p.name for p in path.parent.iterdir()] == ["learning_curves.png"]  # no temporary file left
    assert one_panel[0] > 0 and one_panel[1] > 0


@pytest.mark.slow
def test_one_panel_per_comparison_group(curve_results, tmp_path):
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    plot_learning_curves(curve_results, one)
    plot_learning_curves(pd.concat([curve_results, curve_results.assign(model="other")]), two)
    with Image.open(one) as a, Image.open(two) as b:
        assert b.size[1] == a.size[1]
        assert b.size[0] == 2 * a.size[0]  # 7.5 inches wide per panel


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_strategy_without_random_still_plots(curve_results, tmp_path):
    path = plot_learning_curves(curve_results[curve_results["strategy"] != "random"], tmp_path / "f.png")
    assert path.stat().st_size > 0


@pytest.mark.slow
def test_log_x_is_the_default_and_linear_is_an_option(curve_results, tmp_path):
    default = plot_learning_curves(curve_results, tmp_path / "default.png").read_bytes()
    log = plot_learning_curves(curve_results, tmp_path / "log.png", log_x=True).read_bytes()
    linear = plot_learning_curves(curve_results, tmp_path / "linear.png", log_x=False).read_bytes()
    assert default == log != linear
