"""The simulated label-then-train loop: ``budget`` (plan), ``oracle`` (the model strategies
ask), ``distances`` (labeled-set distances kept up to date), ``checkpoint`` (resume),
``memory`` (peak memory of selection), ``simulate`` (:func:`run_loop`)."""

from .budget import BudgetPlan, check_fractions, plan_budget
from .checkpoint import Checkpoint
from .distances import LabeledDistance
from .memory import PeakMemory
from .oracle import ModelOracle, evaluate
from .simulate import LoopResult, LoopSettings, default_head, initial_set, run_loop

__all__ = ["BudgetPlan", "plan_budget", "check_fractions", "Checkpoint", "LabeledDistance", "PeakMemory",
           "ModelOracle", "evaluate", "LoopSettings", "LoopResult", "run_loop", "default_head", "initial_set"]
