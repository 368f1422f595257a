"""Fashion-MNIST comparison of dense and structured hidden layers.

Run ``python -m geomalg.experiments.fmnist --help`` for the options.  The
modules split the work: :mod:`.data` reads the IDX files, :mod:`.variants`
registers the hidden-layer types, :mod:`.training` runs one (variant,
learning rate) pair, :mod:`.experiment` loops over them in an output folder,
and :mod:`.results` writes tables, JSON, CSV and the plot.
"""

from .cli import main
from .data import load_fashion_mnist, prepare_data
from .experiment import OutputExistsError, run_experiment
from .training import NonFiniteLossError, RunConfig
from .variants import VARIANTS, Variant, available_variant_names, build_mlp

__all__ = [
    "NonFiniteLossError",
    "OutputExistsError",
    "RunConfig",
    "VARIANTS",
    "Variant",
    "available_variant_names",
    "build_mlp",
    "load_fashion_mnist",
    "main",
    "prepare_data",
    "run_experiment",
]
