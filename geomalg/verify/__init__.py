"""Numerical verification: a registry of checks and the ``python -m geomalg.verify`` command."""
