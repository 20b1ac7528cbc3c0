"""What several test files share: one headless Chromium per test module."""

import pytest
from browser import Browser, chromium_path


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.fail("chromium is not installed: `make tools` installs it (apt-get install chromium)")
    try:
        opened = Browser()
    except RuntimeError:
        # Once more: a first start on a fresh machine can be slow to answer.
        opened = Browser()
    yield opened
    opened.close()
