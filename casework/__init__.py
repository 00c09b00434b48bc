"""casework: research environment for the casework of German jobcenters (SGB II).

Importing the package has no side effects: no logging set-up, no network, no
global options. Submodules are imported explicitly, e.g.
``from casework import synth, store, schema``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
