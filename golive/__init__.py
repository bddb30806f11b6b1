"""golive: proves a backend is ready to go live (its floors: docs/architecture.md)."""

__version__ = "0.1.0"
