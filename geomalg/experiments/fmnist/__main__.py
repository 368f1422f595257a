"""Entry point of ``python -m geomalg.experiments.fmnist``."""

import sys

from .cli import main
from .data import IdxFormatError
from .experiment import OutputExistsError
from .training import NonFiniteLossError


def _run() -> int:
    try:
        main()
    except (FileNotFoundError, IdxFormatError, OutputExistsError, NonFiniteLossError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_run())
