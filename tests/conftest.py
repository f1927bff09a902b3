pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.chromium", "tests.fakes.redis_server"]
