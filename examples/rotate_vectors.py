"""Rotate vectors of Cl(3) with a rotor and check the result against a rotation matrix.

Run from the repository root::

    python examples/rotate_vectors.py

The rotor R = exp(B) of a bivector B rotates a vector v by the sandwich
R v ~R.  In three dimensions, B = -(theta / 2) e12 rotates by theta in the
e1-e2 plane, which the script compares with the usual 3 x 3 rotation matrix.
"""

import math

import numpy as np
import torch

from geomalg import Algebra
from geomalg.rotor import sandwich


def main() -> None:
    alg = Algebra(3)
    theta = math.pi / 3

    # Bivector coefficients in blade order e12, e13, e23.
    bivector = np.array([-theta / 2, 0.0, 0.0])
    rotor = alg.bivector_exp(alg.multivector(np.concatenate([[0.0, 0, 0, 0], bivector, [0.0]])))
    print("rotor R =", rotor)

    # A batch of vectors as full multivectors, blades in clifford's order.
    vectors = np.random.default_rng(0).normal(size=(5, 3))
    multivectors = np.zeros((5, 8))
    multivectors[:, alg.grade_slice(1)] = vectors
    rotated = sandwich(torch.as_tensor(multivectors), torch.as_tensor(bivector), alg.signature)
    rotated_vectors = rotated.numpy()[:, alg.grade_slice(1)]

    matrix = np.array([[math.cos(theta), -math.sin(theta), 0.0],
                       [math.sin(theta), math.cos(theta), 0.0],
                       [0.0, 0.0, 1.0]])
    error = np.abs(rotated_vectors - vectors @ matrix.T).max()
    print(f"largest difference from the rotation matrix: {error:.2e}")
    if error > 1e-12:
        raise SystemExit("the sandwich does not match the rotation matrix")


if __name__ == "__main__":
    main()
