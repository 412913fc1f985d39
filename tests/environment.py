"""The test suite's environment, set before Django reads its settings (pyproject's addopts loads this first).

The tests share the embedded Redis with a running app, so they use a database number of their own, which the
tests that use Redis empty.
"""

import os

os.environ["REDIS_DB"] = os.environ.get("REDIS_TEST_DB", "15")
