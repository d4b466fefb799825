"""innosim experiment layer: designs, parallel execution, storage, analyses and reports.

The pipeline is model-agnostic: anything following :class:`experiments.model.ModelFunction`
(the simulator through :class:`SimModelFunction`, or the analytic :class:`Ishigami`) goes
through the same design -> run -> store -> analyse -> report steps.
"""
from .errors import ExperimentError
from .model import Factor, Target, ModelFunction, Ishigami, SimModelFunction, resolve_model
from .design import (Design, sweep_design, reach_design, sobol_design, morris_design,
                     parse_range, parse_levels)
from .execute import run_experiment, ExperimentInterrupted
from .store import load_results

__all__ = ["ExperimentError", "ExperimentInterrupted", "Factor", "Target", "ModelFunction",
           "Ishigami", "SimModelFunction", "resolve_model", "Design", "sweep_design",
           "reach_design", "sobol_design", "morris_design", "parse_range", "parse_levels",
           "run_experiment", "load_results"]
