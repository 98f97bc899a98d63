"""The SHA-256 of a data file, for its provenance, computed in a thread beside other work.

File reads and hashlib release the GIL, so a digest computed in a thread costs the caller
little while another core is free. ``advisor.api`` starts it before pandas is imported
(that import keeps one core busy and leaves the other mostly idle), so the digest of a
big file is ready by the time the file is parsed; :func:`advisor.load.load_data` starts it
itself when called alone. Importing this module imports neither numpy nor pandas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path


def start_file_sha256(path: str | Path, stack: ExitStack) -> Callable[[], str]:
    """Start hashing ``path`` in a thread that ``stack`` closes; returns the digest's getter,
    which re-raises what went wrong while reading the file."""
    pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
    return pool.submit(file_sha256, Path(path)).result


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of the file's bytes (read into one reused buffer: no allocation per
    chunk, which costs the kernel more time than the hash saves)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
