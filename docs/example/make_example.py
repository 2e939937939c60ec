"""Make the README's example song: a GMD test-split groove through a test kit, with accompaniment.

    .venv/bin/python docs/example/make_example.py ../shared/data/gmd/groove docs/example

Writes ``groove.ogg`` (12 s, the drums of GMD's drummer1/eval_session/1 through the AVL
Red Zeppelin kit, a test kit never heard in training, mixed with a generated accompaniment
at -6 dB) and ``groove_reference.json`` (its labels). Then
``drumscribe transcribe docs/example/groove.ogg -o docs/example/out`` gives the MIDI.
"""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from drumscribe import labels
from drumscribe.atomic import atomic_path, write_json
from drumscribe.synth.accompaniment import accompany
from drumscribe.synth.render import render_performance


def main(gmd_root: str, out_dir: str) -> None:
    midi = sorted(Path(gmd_root).glob("drummer1/eval_session/1_*.mid"))[0]
    drums, onsets, _ = render_performance("avl_red_zeppelin", midi, max_seconds=12.0)
    mix, _, info = accompany(midi, drums, np.random.default_rng(7), level_db=-6.0)
    out = Path(out_dir)
    with atomic_path(out / "groove.ogg") as tmp:
        sf.write(tmp, (0.9 * mix / np.abs(mix).max()).astype(np.float32), 44100, format="OGG", subtype="VORBIS")
    write_json(out / "groove_reference.json", {"source": str(midi.relative_to(gmd_root)), "kit": "avl_red_zeppelin",
                                               "accompaniment": {k: str(v) for k, v in info.items()},
                                               "onsets": labels.onsets_to_json(onsets)})


if __name__ == "__main__":
    main(*sys.argv[1:3])
