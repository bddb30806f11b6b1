"""`uvicorn system_under_test.main:app`: builds the app from the environment, or exits with a clear line."""

from __future__ import annotations

import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from system_under_test.app import create_app
from system_under_test.settings import Settings, describe_settings_error


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, SettingsError) as error:
        for line in describe_settings_error(error):
            print(f"configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


app = create_app(load_settings())
