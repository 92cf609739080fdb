#!/usr/bin/env python3
"""Container health probe: exit 0 when GET <url> answers 200, else 1.

The slim images have no curl; this uses only the standard library.
Usage: clip-distill-probe http://127.0.0.1:8000/readyz [timeout_seconds]
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def probe(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    if not 2 <= len(argv) <= 3:
        print("usage: clip-distill-probe URL [TIMEOUT_SECONDS]", file=sys.stderr)
        return 2
    timeout = float(argv[2]) if len(argv) == 3 else 3.0
    return 0 if probe(argv[1], timeout) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
