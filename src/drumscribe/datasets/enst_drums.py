"""ENST-Drums (Gillet & Richard, ISMIR 2006): three drummers, minus-one subset with accompaniment.

Layout (as the archive unpacks; ``root`` may also be one folder above it)::

    drummer_{1,2,3}/audio/wet_mix/<track>.wav         drums (all overhead/close mics mixed)
    drummer_{1,2,3}/audio/accompaniment/<track>.wav   accompaniment of the minus-one tracks
    drummer_{1,2,3}/annotation/<track>.txt            "time label" per line

Only the **minus-one** tracks (those with an accompaniment file, 64 in the full
set) are listed: the drums and the accompaniment are summed with
``gains = (DRUM_GAIN, ACCOMPANIMENT_GAIN) = (1.0, 0.5)``, i.e. accompaniment 6 dB
below the drums, the 2:1 drums-to-accompaniment amplitude ratio customary for ENST
(Paulus & Klapuri 2009; Gillet & Richard 2008 use 2/3 and 1/3, the same ratio).

Split: no official one; one fold per drummer (the custom): by default drummer 1
train, drummer 2 validation, drummer 3 test (``tracks(root, train=..., validation=...,
test=...)`` to rotate the folds). Group = drummer.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..errors import ConfigError, InputError
from ..labels import ENST_LABELS, ENST_TO_GM
from ..references import read_annotation_txt
from .base import DatasetSpec, Download, Track
from .download import require_layout

NAME = "enst_drums"
DRUM_GAIN = 1.0
ACCOMPANIMENT_GAIN = 0.5

#: ENST-Drums label → class (the table is :data:`drumscribe.labels.ENST_LABELS`).
LABEL_MAP = ENST_LABELS


def find_root(root: str | Path) -> Path:
    """The folder holding ``drummer_1..3`` (``root`` itself or its only sub-folder that does)."""
    root = require_layout(root, NAME)
    if any(root.glob("drummer_*/audio")):
        return root
    subs = [p for p in root.iterdir() if p.is_dir() and any(p.glob("drummer_*/audio"))]
    if len(subs) == 1:
        return subs[0]
    raise InputError(f"{root}: not a {NAME} folder (missing drummer_N/audio/wet_mix and drummer_N/annotation)")


def tracks(root: str | Path, train: int = 1, validation: int = 2, test: int = 3,
           gains: tuple[float, float] = (DRUM_GAIN, ACCOMPANIMENT_GAIN)) -> list[Track]:
    """List ENST-Drums minus-one tracks (drums + accompaniment) under ``root``.

    Parameters
    ----------
    train, validation, test : int
        The drummer (1, 2 or 3) of each split; must be distinct.
    gains : (drums, accompaniment)
        Linear gains of the sum.
    """
    if sorted((train, validation, test)) != [1, 2, 3]:
        raise ConfigError(f"{NAME}: drummers per split must be 1, 2, 3 in some order, not "
                          f"train={train}, validation={validation}, test={test}")
    base = find_root(root)
    split_of = {train: "train", validation: "validation", test: "test"}
    out: list[Track] = []
    for n in (1, 2, 3):
        drummer = base / f"drummer_{n}"
        acc_dir = drummer / "audio" / "accompaniment"
        if not drummer.is_dir() or not acc_dir.is_dir():
            continue
        for acc in sorted(acc_dir.glob("*.wav")):
            wet = drummer / "audio" / "wet_mix" / acc.name
            ann = drummer / "annotation" / f"{acc.stem}.txt"
            for need, what in ((wet, "wet_mix audio"), (ann, "annotation")):
                if not need.is_file():
                    raise InputError(f"{need}: {what} missing for minus-one track {acc.name}")
            out.append(Track(
                track_id=f"drummer_{n}_{acc.stem}", split=split_of[n], group=f"drummer_{n}",
                audio=(wet, acc), gains=tuple(float(g) for g in gains),
                load_onsets=partial(read_annotation_txt, ann, LABEL_MAP), annotation=ann,
                meta={"drummer": n}))
    if not out:
        raise InputError(f"{base}: no minus-one tracks (no drummer_N/audio/accompaniment/*.wav)")
    return out


SPEC = DatasetSpec(
    name=NAME,
    description="ENST-Drums minus-one subset: 3 drummers, drums + accompaniment (2:1), one fold per drummer",
    license="non-commercial research (legacy licence agreement; CC BY-NC-ND 4.0 on the Zenodo release)",
    tracks=tracks,
    label_map=LABEL_MAP,
    downloads=(
        # 2026 Zenodo release, reported but not verified here (no published checksum known):
        # the first download's sha256 is recorded and later downloads must match it.
        Download(url="https://zenodo.org/records/21506051/files/enst_drums_v1_1.tar.zst?download=1",
                 filename="enst_drums_v1_1.tar.zst"),
    ),
    path_key=NAME,
    citation="O. Gillet, G. Richard. ENST-Drums: an extensive audio-visual database for drum signals "
             "processing. ISMIR 2006.",
)
