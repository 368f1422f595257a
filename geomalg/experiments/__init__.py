"""Experiments that compare rotor layers with dense and structured baselines."""
