pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.chromium"]
