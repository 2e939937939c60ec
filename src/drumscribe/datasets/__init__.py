"""Dataset registry: ``get(name)`` returns the :class:`DatasetSpec` of a dataset.

One module per dataset registers itself in :data:`REGISTRY` under the same name the
config (``datasets:``), the wildcard ``{dataset}`` and the file names use.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import SPLITS, DatasetSpec, Download, Track

#: dataset name -> module that defines ``SPEC``
_MODULES = {
    "gmd_synth": "gmd_synth",
    "gmd_synth_mix": "gmd_synth",
    "mdb_drums": "mdb_drums",
    "mdb_drums_drum_only": "mdb_drums",
    "enst_drums": "enst_drums",
    "egmd": "egmd",
    "slakh": "slakh",
    "adtof_yt": "adtof_yt",
    "sadtp": "sadtp",
}
NAMES: tuple[str, ...] = tuple(_MODULES)


def get(name: str) -> DatasetSpec:
    """Return the spec of dataset ``name``; a ``ConfigError`` names unknown datasets."""
    if name not in _MODULES:
        raise ConfigError(f"dataset {name!r}: unknown (known: {', '.join(NAMES)})")
    module = importlib.import_module(f".{_MODULES[name]}", __name__)
    specs = getattr(module, "SPECS", None) or {module.SPEC.name: module.SPEC}
    return specs[name]


__all__ = ["SPLITS", "DatasetSpec", "Download", "Track", "get", "NAMES"]
