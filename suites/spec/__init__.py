"""The migration guide's own tests."""
