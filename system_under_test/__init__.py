"""The reference backend: everything the migration guide describes, working for real."""

__version__ = "0.1.0"

# For golive's fork server (see golive's README, "Validate your own backend"): modules that read no
# settings and keep no state at import, so one import serves every replica forked after it. The
# app itself (main) reads its settings at import: each replica imports it.
GOLIVE_PRELOAD = ("app",)
