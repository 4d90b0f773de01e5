"""The one error type users see: a file (or thing) and what is wrong with it, on one line."""

from __future__ import annotations

import os


class PcsegError(Exception):
    """Bad input. The command line prints ``pcseg: <where>: <problem>`` and exits with status 2.

    Readers, config loading and checkpoint loading raise this (never a bare ValueError/KeyError) so that
    callers can tell user mistakes from bugs.
    """

    def __init__(self, where: str | os.PathLike | None, problem: str):
        self.where = None if where is None else str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}" if self.where else problem)

    def __reduce__(self):
        # rebuild from (where, problem) so the error survives worker processes (DataLoader, prepare)
        return (type(self), (self.where, self.problem))
