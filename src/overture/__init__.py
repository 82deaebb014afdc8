"""Overture: orchestrated marketing campaigns."""

__version__ = "0.1.0"
