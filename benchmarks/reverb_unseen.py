"""Is the suite's reverb figure inflated by training in its own hall? (issue 11)

The suite's ``reverb`` condition convolves the natural mix with Debian's ``greathall.wav``,
which releases 4-6 also drew as one of their 32 training rooms. A model's figure in an unseen
hall of about the same reverberation time says how much of it that room explains:

- ``reverb_sim_hall``: the natural mix, 30 % wet (as ``reverb``), in a shoe-box hall
  simulated with pyroomacoustics (28 x 19 x 11 m, RT60 2.2 s: outside the training rooms'
  0.2-1.5 s; fixed source and microphone 10 m apart), an impulse response no model trained in;
- release 3 (synthetic data only, never a room) gives how much harder that hall is by itself;
  a model trained in greathall that loses more than release 3 does between the two halls owes
  the difference to the room it heard.

    .venv/bin/python benchmarks/reverb_unseen.py --models release3 cv cv_release5 cv_louder_mix \
        --out docs/results/reverb-unseen-2026-12-03

``--models`` are ``robustness.models`` names of config/config.yaml. Writes OUT/hall_sim.wav,
OUT/reverb_unseen_long.csv (model set, song, condition, class counts), OUT/reverb_unseen.csv
(micro F1 per model set and condition, with the two halls' RT60) and prints it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MDB = REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"
HALL = {"dims": [28.0, 19.0, 11.0], "rt60": 2.2, "source": [7.0, 9.5, 1.5], "mic": [17.0, 9.5, 3.0]}
CONDITIONS = ["mix_natural", "reverb", "reverb_sim_hall"]


def simulated_hall(sr: int) -> np.ndarray:
    """The unseen hall's impulse response (trimmed as the pool's rooms are)."""
    import pyroomacoustics as pra

    from drumscribe import rooms

    absorption, max_order = pra.inverse_sabine(HALL["rt60"], HALL["dims"])
    return rooms.trim_ir(rooms.shoebox_rir(HALL["dims"], absorption, max_order, HALL["source"], HALL["mic"], sr))


def model_spec(name: str, config: dict):
    """A robustness.models entry with its paths made absolute (project-relative in the config)."""
    spec = config["robustness"]["models"][name]
    if isinstance(spec, dict):
        return {song: str(REPO / path) for song, path in spec.items()}
    return None if spec == "package" else str(REPO / spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", required=True, help="robustness.models names (config/config.yaml)")
    ap.add_argument("--mdb-root", default=str(DEFAULT_MDB))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)

    import pandas as pd
    import soundfile as sf
    import yaml

    from drumscribe import SAMPLE_RATE, degrade, robustness, rooms
    from drumscribe.atomic import atomic_path
    from drumscribe.metrics import prf

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    unknown = [m for m in args.models if m not in config["robustness"]["models"]]
    if unknown:
        print(f"reverb_unseen: --models: {', '.join(unknown)} not in robustness.models", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    hall = simulated_hall(SAMPLE_RATE)
    wav = args.out / "hall_sim.wav"
    with atomic_path(wav) as tmp:
        sf.write(str(tmp), hall, SAMPLE_RATE, subtype="FLOAT", format="WAV")
    # the unseen hall as a condition beside the suite's own (same wet share, same steps)
    robustness.CONDITIONS["reverb_sim_hall"] = robustness.Condition(
        "reverb_sim_hall", "natural, simulated hall (RT60 2.2 s, 30 % wet)", "mix", None, -1.0,
        (("reverb", (("wet", 0.3), ("ir_path", str(wav)))),))
    t0 = time.perf_counter()
    longs = []
    for name in args.models:
        df = robustness.run_suite(model_spec(name, config), args.mdb_root, conditions=CONDITIONS,
                                  threads=args.threads, progress=False)
        longs.append(df.assign(model_set=name))
    long = pd.concat(longs, ignore_index=True)
    rt60 = {"reverb": rooms.measure_rt60(rooms.trim_ir(degrade.load_impulse_response(degrade.DEFAULT_IR))),
            "reverb_sim_hall": rooms.measure_rt60(hall)}
    rows = []
    for (name, cond), g in long.groupby(["model_set", "condition"], sort=False):
        tp, fp, fn = (int(g[c].sum()) for c in ("tp", "fp", "fn"))
        rows.append({"model_set": name, "condition": cond, "micro_f1": round(prf(tp, fp, fn)[2], 4),
                     "tp": tp, "fp": fp, "fn": fn, "ir_rt60_s": round(rt60[cond], 2) if cond in rt60 else None})
    wide = pd.DataFrame(rows)
    with atomic_path(args.out / "reverb_unseen_long.csv") as tmp:
        long.drop(columns=["model"]).to_csv(tmp, index=False)
    with atomic_path(args.out / "reverb_unseen.csv") as tmp:
        wide.to_csv(tmp, index=False)
    print(wide.to_string(index=False))
    print(f"reverb_unseen: {time.perf_counter() - t0:.0f} s; tables in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
