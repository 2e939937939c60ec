"""Are the real songs' errors a matter of timing? Each of the 9 MDB songs transcribed by the fold
model of config ``robustness.models.cv`` that never heard it (the suite's own loop,
``robustness.song_transcriptions``), in the suite's conditions given as arguments (default: drums,
mix_natural); per class the F1 at 20, 30, 50 and 100 ms and the signed offset (estimate -
reference) of the onsets matched within 100 ms.
If the F1 rose much from 50 to 100 ms, or the median offset were far from 0, a latency correction
would be a lever; docs/robustness.md, "Errors in time" (2026-12-07).

    PYTHONPATH=src .venv/bin/python benchmarks/onset_timing.py drums mix_natural lp10k
"""
import sys

import mir_eval
import numpy as np
import yaml

from drumscribe import CLASSES
from drumscribe.metrics import class_counts
from drumscribe.robustness import song_transcriptions

WINDOWS = (0.02, 0.03, 0.05, 0.1)
mdb = "../shared/data/mdb_drums_dev/MDB Drums"
models = yaml.safe_load(open("config/config.yaml"))["robustness"]["models"]["cv"]
conds = sys.argv[1:] or ["drums", "mix_natural"]
agg = {}
offs = {}
for song, _, _, cond, ref, est in song_transcriptions(models, mdb, conds, threads=2):
    for w in WINDOWS:
        cc = class_counts(ref, est, w)
        for c in CLASSES:
            a = agg.setdefault((cond, w, c), [0, 0, 0])
            for k in range(3):
                a[k] += cc[c][k]
    for c in CLASSES:
        r, e = np.asarray(ref.get(c, [])), np.asarray(est.get(c, []))
        if len(r) and len(e):
            m = mir_eval.util.match_events(r, e, 0.1)
            offs.setdefault((cond, c), []).extend([e[j] - r[i] for i, j in m])
for cond in conds:
    print(cond)
    for c in CLASSES:
        f = []
        for w in WINDOWS:
            tp, fp, fn = agg[(cond, w, c)]
            f.append(2 * tp / max(1, 2 * tp + fp + fn))
        o = np.asarray(offs.get((cond, c), [0.0])) * 1000
        q25, q75 = np.percentile(o, [25, 75])
        print(f"  {c}: F1@20/30/50/100 ms " + " ".join(f"{x:.3f}" for x in f)
              + f"  offset median {np.median(o):+.1f} ms, IQR [{q25:+.1f}, {q75:+.1f}], n={len(o)}")

    def micro(w):
        tp, fp, fn = (sum(agg[(cond, w, c)][k] for c in CLASSES) for k in range(3))
        return 2 * tp / (2 * tp + fp + fn)

    print(f"  micro F1 @50 {micro(0.05):.3f} @100 {micro(0.1):.3f}")
