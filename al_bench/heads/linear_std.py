"""``model=linear_std``: the linear head on standardized inputs — each feature centred and scaled
by the labeled set's mean and std, as a BatchNorm layer in front of it would. A second head to
score a study's labeled sets with (``python -m al_bench.report OUTPUTS --heads linear_std``): a
verdict that holds under one head and reverses under the other depends on the head."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option
from . import HEADS
from .linear import STANDARDIZE_HELP, LinearHead, LinearSettings

__all__ = ["LinearStdHead", "LinearStdSettings"]


@dataclass(frozen=True)
class LinearStdSettings(LinearSettings):
    """The linear head's settings, standardizing by default (see al_bench/conf/model/linear_std.yaml)."""

    standardize: bool = option(True, help=STANDARDIZE_HELP)


@HEADS.register("linear_std", settings=LinearStdSettings, inputs="features")
class LinearStdHead(LinearHead):
    """:class:`~al_bench.heads.linear.LinearHead` with ``standardize`` on."""
