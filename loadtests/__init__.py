"""Locust journeys and load profiles (the Load tests issue). Never imported by pytest: Locust patches
the interpreter with gevent; it always runs as a subprocess."""
