"""Synthetic test splits on the path `drumscribe transcribe` runs, for any models.

Renders the test split of GMD through the test kits of a preset (drums alone and with the
generated accompaniment, as the graph's render rules do), transcribes every rendered FLAC
with `Transcriber(model).transcribe(path)` (so a model's input level normalisation applies,
which the cached spectrograms of the study path lack) and scores it against its onsets
(mir_eval, 50 ms, counts summed over tracks). Used for release 4 against release 3
(docs/robustness.md):

    .venv/bin/python benchmarks/synthetic_test.py --preset config/presets/release_gpu.yaml \
        --model release3=docs/results/release3-2026-11-25/drumscribe-release3.pt \
        --model release4=src/drumscribe/assets/drumscribe-default.pt --out results/bench/synthetic_test
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", default=[], help="config overlays (after config/config.yaml)")
    ap.add_argument("--model", action="append", required=True, help="NAME=checkpoint")
    ap.add_argument("--gmd", default=str(REPO.parent / "shared" / "data" / "gmd" / "groove"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    from drumscribe import CLASSES, metrics, synth
    from drumscribe import config as ds_config
    from drumscribe.labels import onsets_from_json
    from drumscribe.transcribe import Transcriber

    config = ds_config.load_config(args.preset, base=REPO / "config" / "config.yaml")
    render = config["render"]
    kits = ds_config.render_kits(config)
    test_kits = list(render["kit_split"]["test"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    assignments = synth.assign_kits(args.gmd, kits, render, out / "assignments.csv")
    models = dict(m.split("=", 1) for m in args.model)
    transcribers = {n: Transcriber(p, threads=args.threads) for n, p in models.items()}
    result = {"preset": args.preset, "test_kits": test_kits, "models": models, "datasets": {}}
    t0 = time.perf_counter()
    for dataset, mix in (("gmd_synth", False), ("gmd_synth_mix", True)):
        rows = {n: {c: [0, 0, 0] for c in CLASSES} for n in models}
        n_tracks = 0
        for kit in test_kits:
            manifest = synth.render_kit(kit, assignments, args.gmd, out / dataset, mix, render)
            import pandas as pd

            table = pd.read_csv(manifest)
            for r in table[table["split"] == "test"].itertuples(index=False):
                ref = onsets_from_json(json.loads((manifest.parent / r.onsets).read_text()))
                n_tracks += 1
                for n, t in transcribers.items():
                    est = t.transcribe(manifest.parent / r.audio, keep_activations=False).onsets
                    for c, (tp, fp, fn) in metrics.class_counts(ref, est, 0.05).items():
                        rows[n][c][0] += tp
                        rows[n][c][1] += fp
                        rows[n][c][2] += fn
        result["datasets"][dataset] = {"n_tracks": n_tracks, **{
            n: metrics.scores({c: tuple(v) for c, v in counts.items()}) for n, counts in rows.items()}}
        for n in models:
            print(f"{dataset}: {n} micro F1 {result['datasets'][dataset][n]['micro_f1']:.3f} ({n_tracks} tracks)")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "synthetic_test.json").write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
