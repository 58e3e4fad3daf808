"""hjemmeprove: home blood sampling for a hospital's clinical biochemistry department.

The core package imports no Qt; the desktop front end lives in the top-level ``ui`` package.
"""

__version__ = "0.1.0"
