"""What every serving process sets before its app starts."""

from __future__ import annotations

import os

from vendor_service.server.process import default_torch_threads


def test_torch_threads_share_the_cores_out() -> None:
    cores = os.cpu_count() or 2
    assert default_torch_threads(1) == max(1, cores - 1)  # one core left to the event loop
    assert default_torch_threads(cores) == 1
    assert default_torch_threads(2 * cores) == 1
