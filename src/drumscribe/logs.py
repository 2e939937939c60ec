"""Log lines for the graph's job logs (``logs/<rule>/<wildcards>.log``).

Library code logs through ``logging.getLogger(__name__)``; the workflow scripts send
stderr to their log and call :func:`setup`, so every job's log holds at least when it
started and finished, and long stages add their progress (:class:`Progress`: a line every
10 %, as tqdm's bars reach only a terminal) and training one line per epoch.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(smk=None, level: int = logging.INFO) -> None:
    """Log to stderr (a script's log file); with the ``snakemake`` object, a first line
    naming the rule and its wildcards and a last one with the job's seconds."""
    logging.basicConfig(stream=sys.stderr, level=level, format=FORMAT, datefmt="%Y-%m-%d %H:%M:%S", force=True)
    if smk is None:
        return
    log = logging.getLogger("drumscribe.job")
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards).items())
    name = f"{smk.rule}" + (f" ({wildcards})" if wildcards else "")
    log.info("%s: started, %d thread(s)", name, int(getattr(smk, "threads", 1) or 1))
    t0 = time.perf_counter()

    def finished() -> None:
        log.info("%s: ended after %.1f s", name, time.perf_counter() - t0)

    atexit.register(finished)


class Progress:
    """``update(n)`` logs ``<desc>: i/total <unit>`` at every 10 % (and the last one with
    the rate); nothing when logging is not set up for INFO."""

    def __init__(self, log: logging.Logger, desc: str, total: int, unit: str = "item"):
        self.log, self.desc, self.total, self.unit = log, desc, max(int(total), 0), unit
        self.done, self.next_step, self.t0 = 0, 1, time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.total:
            return
        step = self.done * 10 // self.total
        if step >= self.next_step or self.done >= self.total:
            seconds = time.perf_counter() - self.t0
            rate = self.done / seconds if seconds > 0 else float("inf")
            self.log.info("%s: %d/%d %s (%.0f%%), %.1f s, %.2f %s/s", self.desc, self.done, self.total, self.unit,
                          100.0 * self.done / self.total, seconds, rate, self.unit)
            self.next_step = step + 1
