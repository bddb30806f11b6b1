"""golive: proves a backend is ready to go live (CLI, run directories, validation)."""

__version__ = "0.1.0"
