"""Cocoon Desktop: serve AI inference on the Cocoon network from your GPU."""

__version__ = "0.1.0"
