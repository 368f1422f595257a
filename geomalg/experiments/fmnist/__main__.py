"""Entry point of ``python -m geomalg.experiments.fmnist``."""

import logging
import sys

from .cli import main
from .data import IdxFormatError
from .experiment import OutputExistsError
from .training import NonFiniteLossError


def _run() -> int:
    # These errors come from the data, the output folder or the chosen
    # settings, so a one-line message serves better than a traceback.
    # ValueError covers settings that a layer rejects, such as a rank that
    # is not below a hidden width; --log-level DEBUG shows its traceback.
    try:
        main()
    except (FileNotFoundError, IdxFormatError, OutputExistsError, NonFiniteLossError, ValueError) as error:
        logging.getLogger("geomalg.experiments.fmnist").debug("run failed", exc_info=True)
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_run())
