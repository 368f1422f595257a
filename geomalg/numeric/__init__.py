"""Numeric core: validation and broadcasting around the generated kernels."""
