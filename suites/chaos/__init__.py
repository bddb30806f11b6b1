"""The chaos experiment library, run against the session stack (fast ones in CI, the rest nightly)."""
