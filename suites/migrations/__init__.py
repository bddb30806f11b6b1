"""The Alembic history: pytest-alembic's built-in checks and the guide's schema."""
