# Fixtures every app's tests may use live in tests/fixtures.py.
pytest_plugins = ["tests.fixtures"]
