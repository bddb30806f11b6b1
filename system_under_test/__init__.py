"""The reference backend: everything the migration guide describes, working for real."""

__version__ = "0.1.0"
