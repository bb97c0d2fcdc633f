"""Skip locally, fail in CI: a test that needs a real part never passes by skipping there."""
import os

import pytest


def in_ci():
    """True when the CI environment variable is set to a true-ish value."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(condition, what):
    """Skip (or, with CI set, fail) the calling test when `condition` is false."""
    if condition:
        return
    message = "needs %s" % what
    if in_ci():
        pytest.fail(message + " (CI is set: a missing requirement is a failure, not a skip)")
    pytest.skip(message)
