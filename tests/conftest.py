from hypothesis import settings

pytest_plugins = ["pytester"]

# Same examples on every run and machine: a property test failing in CI must fail again locally.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.load_profile("deterministic")
