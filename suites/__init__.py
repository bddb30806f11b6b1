"""Suites that run against a stack: the contract, the API, migrations, and the guide's own tests."""
