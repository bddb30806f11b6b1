"""The envelope and X-Request-ID contract of the migration guide."""
