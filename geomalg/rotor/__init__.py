"""Rotor math: invariant decomposition, exponential and logarithm, sandwich operators.

Bivectors are arrays of shape ``(..., C(n, 2))`` with the coefficients of
``e_ij`` (``i < j``) in lexicographic order, which is the grade-2 block of a
full multivector. Rotors and other multivectors have shape ``(..., 2**n)`` in
canonical blade order. Every function takes the algebra as ``signature``, the
tuple of basis-vector squares of :func:`geomalg.blades.signature_vector`.
"""

from geomalg.rotor.decomposition import invariant_decomposition
from geomalg.rotor.exponential import bivector_exp, rotor_log
from geomalg.rotor.sandwich import (
    DenseOperator,
    GradeBlockOperator,
    ParityBlockOperator,
    sandwich,
    sandwich_operator,
    vector_rotation,
)

__all__ = [
    "DenseOperator",
    "GradeBlockOperator",
    "ParityBlockOperator",
    "bivector_exp",
    "invariant_decomposition",
    "rotor_log",
    "sandwich",
    "sandwich_operator",
    "vector_rotation",
]
