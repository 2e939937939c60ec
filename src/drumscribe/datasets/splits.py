"""Grouped splits for datasets that have no official one.

Tracks are split by *group* (drummer, session or song), never by frame or clip,
so that no group is heard in two splits (scikit-learn ``GroupShuffleSplit``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from .base import SPLITS


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3:
        raise ConfigError(f"split fractions {tuple(fractions)}: need 3 values (train, validation, test)")
    f = tuple(float(x) for x in fractions)
    if any(x < 0 for x in f) or not np.isclose(sum(f), 1.0):
        raise ConfigError(f"split fractions {f}: must be non-negative and sum to 1")
    return f  # type: ignore[return-value]


def grouped_split(groups: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0) -> list[str]:
    """Assign each item the split of its group: ``"train"``, ``"validation"`` or ``"test"``.

    Two ``GroupShuffleSplit`` passes: first test groups are drawn from all groups,
    then validation groups from the rest. Fractions are of *groups*, not items
    (GroupShuffleSplit's ``test_size`` as a float is a fraction of groups); with few
    groups every non-zero fraction gets at least one group while groups remain.
    The result is deterministic for a given ``seed`` and set of groups, whatever
    the order of ``groups``.

    Parameters
    ----------
    groups : sequence of str
        One group label per item (e.g. the song of each track).
    fractions : (train, validation, test)
        Fractions of groups per split; must sum to 1.
    seed : int
        Random state of the shuffles.

    Examples
    --------
    >>> s = grouped_split(["a", "a", "b", "c", "d", "e"], (0.6, 0.2, 0.2), seed=0)
    >>> s[0] == s[1]
    True
    """
    from sklearn.model_selection import GroupShuffleSplit

    f_train, f_val, f_test = _check_fractions(fractions)
    groups = [str(g) for g in groups]
    if not groups:
        return []
    nonzero = [s for s, f in zip(SPLITS, (f_train, f_val, f_test)) if f > 0]
    if len(nonzero) == 1:
        return [nonzero[0]] * len(groups)
    unique = sorted(set(groups))  # order-independent
    n = len(unique)
    assignment: dict[str, str] = {}

    def n_for(frac: float, pool: int) -> int:
        if frac <= 0 or pool <= 1:
            return 0
        return min(pool - 1, max(1, int(round(frac * n))))

    ids = np.arange(n)
    remaining = ids
    n_test = n_for(f_test, len(remaining))
    if n_test:
        gss = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
        keep, test = next(gss.split(remaining, groups=remaining))
        for i in remaining[test]:
            assignment[unique[i]] = "test"
        remaining = remaining[keep]
    n_val = n_for(f_val, len(remaining)) if f_train > 0 else len(remaining)
    if n_val and n_val < len(remaining):
        gss = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed + 1)
        keep, val = next(gss.split(remaining, groups=remaining))
        for i in remaining[val]:
            assignment[unique[i]] = "validation"
        remaining = remaining[keep]
    elif n_val:
        for i in remaining:
            assignment[unique[i]] = "validation"
        remaining = remaining[:0]
    for i in remaining:
        assignment[unique[i]] = "train"
    out = [assignment[g] for g in groups]
    assert all(s in SPLITS for s in out)
    return out
