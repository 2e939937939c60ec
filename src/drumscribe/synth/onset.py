"""Where a rendered hit becomes audible (numpy only).

Definition used for every label of ``gmd_synth``: the **audible onset** of a hit is the
first sample whose absolute value reaches :data:`ONSET_REL_DB` (−30 dB, about 3 %) of
the hit's peak. (−20 dB would put slow-rising sounds such as pedal hi-hats 15–40 ms
after their audible start; −30 dB stays above the noise floor that some samples carry
before the hit: Millo's ride has 26 ms of hiss at −50 dB.) Sample kits differ in leading silence and attack; labels are placed
on this point, not on the note-on.
"""

from __future__ import annotations

import numpy as np

#: threshold of the audible onset relative to the hit's peak (dB)
ONSET_REL_DB = -30.0
#: leading silence below this (dB re peak) is trimmed from Hydrogen samples
TRIM_REL_DB = -50.0


def first_crossing(y: np.ndarray, rel_db: float = ONSET_REL_DB, peak: float | None = None) -> int | None:
    """Index of the first sample with ``|y| >= peak * 10**(rel_db/20)``; None if ``y`` is silent.

    ``peak`` defaults to ``max(|y|)``.

    Examples
    --------
    >>> first_crossing(np.array([0.0, 0.001, 0.05, 1.0, -0.5]))
    2
    >>> first_crossing(np.array([0.0, 0.001, 0.05, 1.0, -0.5]), rel_db=-20.0)
    3
    """
    a = np.abs(np.asarray(y, dtype=np.float64))
    pk = float(a.max()) if peak is None and a.size else float(peak or 0.0)
    if pk <= 0.0:
        return None
    idx = np.flatnonzero(a >= pk * 10.0 ** (rel_db / 20.0))
    return int(idx[0]) if idx.size else None
