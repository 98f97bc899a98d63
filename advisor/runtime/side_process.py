"""Compile the rule base in a side process while the parent imports pandas and reads the data.

Importing advisor.rules and rule-engine and compiling the rules take about 0.1 s of CPU
(rule-engine's parser tables ship with the advisor: see advisor.runtime.rule_parser). In the
same process that work holds the GIL while the parent imports pandas, which holds it too.
So for a big file read by a process that has not imported rule-engine yet, the CLI asks
:func:`advisor.api.run` for this child, started before anything heavy: it compiles on the
other core while the parent imports pandas (one core), sends back the rules as plain
records, and then answers, for each set of facts, which rules hold. The parent never
imports rule-engine. The library (``advisor.suggest``) compiles in-process.

The pipe carries pickles between this package's own two processes only. If the child
cannot start or dies, the parent compiles the rule base itself: the answer never depends on
the child.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

from ..errors import RuleError

if TYPE_CHECKING:
    from ..rules import RuleBase

# advisor.rules (and numpy with it) is imported where it is used: the parent starts this
# child before its own heavy imports, so that the two overlap.

#: The child does no linear algebra: without these, numpy's import starts a BLAS thread per
#: core, which spins for a while (about 0.06 s of CPU taken from the parent's imports).
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class RuleProcess:
    """A child process holding the compiled rule base; use it as a context manager."""

    def __init__(self, extra_dirs: tuple[Path, ...]) -> None:
        self.extra_dirs = tuple(extra_dirs)
        self._local: RuleBase | None = None
        try:
            self._child: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "advisor.runtime.side_process", *map(str, self.extra_dirs)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env={**os.environ, **ONE_BLAS_THREAD})
        except (OSError, TypeError, ValueError):  # no usable interpreter path (embedded Python)
            self._child = None

    def __enter__(self) -> RuleProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def rulebase(self) -> RuleBase:
        """The rule base, its conditions answered by the child (or compiled here as a fallback)."""
        from ..rules import RuleBase

        try:
            kind, payload = self._receive()
        except (OSError, EOFError, pickle.UnpicklingError):
            return self._compile_here()
        if kind == "error":
            raise RuleError(payload)
        rules, digest, overrides, sources, loss_tasks = payload
        return RuleBase(rules=rules, digest=digest, overrides=overrides, sources=sources,
                        loss_tasks=MappingProxyType(loss_tasks), matcher=self._matches)

    def close(self) -> None:
        """Close the child's pipes, which ends it; a background thread reaps it, so the
        caller does not wait the ~0.1 s its interpreter takes to exit."""
        if self._child is None:
            return
        child, self._child = self._child, None
        try:
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()
        except OSError:
            child.kill()
        threading.Thread(target=child.wait, name="advisor-rule-process-reaper", daemon=True).start()

    def _matches(self, facts: dict[str, Any]) -> list[bool]:
        try:
            to_child, from_child = self._pipes()
            _send(to_child, facts)
            return _read(from_child)
        except (OSError, EOFError, pickle.UnpicklingError):
            return [rule.matches(facts) for rule in self._compile_here().rules]

    def _receive(self) -> tuple[str, Any]:
        return _read(self._pipes()[1])

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """The child's stdin and stdout; EOFError once it is gone."""
        child = self._child
        if child is None or child.stdin is None or child.stdout is None:
            raise EOFError("no rule process")
        return child.stdin, child.stdout

    def _compile_here(self) -> RuleBase:
        from ..rules import load_rulebase

        self.close()
        if self._local is None:
            self._local = load_rulebase(self.extra_dirs)
        return self._local


def _send(stream: IO[bytes], value: Any) -> None:
    pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    return pickle.load(stream)


def _serve(extra_dirs: list[str]) -> None:
    """The child: compile, send the records, then answer which rules hold until stdin closes."""
    from ..rules import load_rulebase

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        rulebase = load_rulebase([Path(directory) for directory in extra_dirs])
    except RuleError as error:
        _send(stdout, ("error", str(error)))
        return
    records = tuple(replace(rule, _condition=None) for rule in rulebase.rules)
    _send(stdout, ("ready", (records, rulebase.digest, rulebase.overrides, rulebase.sources,
                             dict(rulebase.loss_tasks))))
    while True:
        try:
            facts = _read(stdin)
        except EOFError:
            return
        _send(stdout, [rule.matches(facts) for rule in rulebase.rules])


if __name__ == "__main__":
    _serve(sys.argv[1:])
