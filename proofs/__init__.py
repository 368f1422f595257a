"""Runnable SymPy derivations of the algebra behind geomalg's rotor layers.

Each module derives one result, checks it symbolically and raises
:class:`proofs._support.DerivationError` when a check fails. Its module
docstring explains the mathematics and is rendered as a page of the
documentation. Run one with ``python -m proofs.<name>`` or all of them with
``python -m proofs.run_all``.
"""
