"""Neural-network layers: structured linear maps and their cost accounting.

Baselines live here beside the rotor layer.  :class:`RotorLinear` is
exported when :mod:`geomalg.nn.rotor` exists in this install.
"""

import importlib.util

from .accounting import LayerCost, layer_cost
from .block_hadamard import BlockHadamardLinear
from .hadamard import fwht
from .low_rank import LowRankLinear

__all__ = ["BlockHadamardLinear", "LayerCost", "LowRankLinear", "fwht", "layer_cost"]

# Import the rotor layer only when its module is present, so that an error
# inside that module still surfaces instead of reading as "not available".
if importlib.util.find_spec(f"{__name__}.rotor") is not None:
    from .gadget import RotorGadget  # noqa: F401
    from .rotor import RotorLinear  # noqa: F401

    __all__ += ["RotorGadget", "RotorLinear"]
