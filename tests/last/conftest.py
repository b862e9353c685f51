"""Orders the individual-number scan after every other test of the session."""

import pytest

LAST = "tests/last/test_no_individual_numbers.py"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    last = [item for item in items if item.nodeid.startswith(LAST)]
    items[:] = [item for item in items if not item.nodeid.startswith(LAST)] + last
