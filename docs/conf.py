"""Sphinx configuration for the geomalg documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import geomalg  # noqa: E402

project = "geomalg"
author = "geomalg developers"
release = geomalg.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
nitpicky = False

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "Clifford algebra and rotor layers", "fixed_sidebar": True}
