"""Replace the q/k/v projections of a pretrained causal LM and measure the cost.

``python -m geomalg.experiments.llm`` loads a causal language model (by
default Google's gemma-3-270m, shipped on PyPI).  It fits structured
replacements of the q/k/v projections of chosen attention layers to the
original projections' outputs.  Then it reports the change in log-perplexity
and multiple-choice accuracy for each replacement method.  See ``docs/llm.rst``.

The modules, in the order of the protocol: :mod:`.models` (loading and
locating projections), :mod:`.text` (corpora and splits), :mod:`.tasks`
(multiple-choice tasks), :mod:`.capture` (forward hooks), :mod:`.methods`
(the method registry), :mod:`.fit` (training), :mod:`.metrics`
(log-perplexity and accuracy), :mod:`.storage` (cache and atomic writes),
:mod:`.report` (tables and plot) and :mod:`.pipeline` (the whole run).
"""

from .methods import DEFAULT_METHODS, MethodRegistry, ReplacementMethod, default_registry
from .pipeline import ExperimentConfig, run_experiment

__all__ = ["DEFAULT_METHODS", "ExperimentConfig", "MethodRegistry", "ReplacementMethod",
           "default_registry", "run_experiment"]
