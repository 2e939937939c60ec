"""Render throughput and disk size of the offline default (gmd_synth, gmd_synth_mix).

Throughput: GMD performances (train split, seeded choice) rendered through one kit in
one process, single-threaded, as ``render_kit`` does (MIDI read, render, peak
normalisation, 16-bit FLAC + JSON written). Reported as audio seconds per wall second
and per CPU second (``time.process_time``: "per core", robust to a busy machine).
The first track's kit loading (sound font, probes, samples) is included.

Size: bytes per audio second of the written FLAC for every kit (a sample of
performances), times the audio seconds ``assign_kits`` gives each kit in the full
default (config/config.yaml), for gmd_synth and gmd_synth_mix.

Families (``--families``): for every pair of kits, a hit per GM slot at velocity 100,
normalised cross-correlation > 0.9 counts as the same sample; prints the pairs that
share slots (the source of ``drumscribe.synth.kits.FAMILIES``).

Compact kits (``--compact``): every kit compacted (``drumscribe.synth.compact``, 4 layers,
2 s one-shots) into a temporary folder, then ``--tracks`` performances rendered through the
original and through the compact copy: compact size per kit, largest label difference (ms),
label counts equal, and the median absolute difference of the two log spectrograms (dB, bins
above -60 dB re the peak; the audio's own peak normalisation applied to both). Also
render throughput of the compact copy (per core).

Usage::

    .venv/bin/python benchmarks/bench_render.py                 # throughput, 4 cases
    .venv/bin/python benchmarks/bench_render.py --size          # + size per kit
    .venv/bin/python benchmarks/bench_render.py --families
    .venv/bin/python benchmarks/bench_render.py --compact --tracks 3 --kits all
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import yaml

from drumscribe.synth import gmd, kits

REPO = Path(__file__).resolve().parents[1]
GMD_ROOT = (REPO / "../shared/data/gmd/groove").resolve()


def _config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _sample_tracks(info: pd.DataFrame, n: int, seed: int = 0, min_seconds: float = 20.0) -> pd.DataFrame:
    """``n`` train performances of at least ``min_seconds`` (beats; fills are ~2 s)."""
    pool = info[(info.split == "train") & (info.duration >= min_seconds)].sort_values("id")
    rng = np.random.default_rng(seed)
    return pool.iloc[np.sort(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]


def _assign(rows: pd.DataFrame, kit: str) -> pd.DataFrame:
    return pd.DataFrame({"track_id": [f"{kit}__{g.replace('/', '_')}" for g in rows.id], "gmd_id": rows.id.values,
                         "split": "train", "kit": kit, "group": rows.session.values,
                         "midi_filename": rows.midi_filename.values, "bpm": rows.bpm.values.astype(float),
                         "time_signature": rows.time_signature.values})


def throughput(kit: str, rows: pd.DataFrame, mix: bool, max_seconds: float | None, cfg: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        a = _assign(rows, kit)
        render_cfg = {**cfg, "max_seconds": max_seconds}
        w0, c0 = time.perf_counter(), time.process_time()
        manifest = gmd.render_kit(kit, a, GMD_ROOT, tmp, mix=mix, render_cfg=render_cfg, progress=False)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        m = pd.read_csv(manifest)
        audio_s = float(m.duration.sum())
        nbytes = sum((Path(tmp) / kit / f).stat().st_size for f in m.audio)
    return {"kit": kit, "mix": mix, "tracks": len(m), "audio_s": round(audio_s, 1), "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "x_realtime_wall": round(audio_s / wall, 1),
            "x_realtime_per_core": round(audio_s / cpu, 1), "flac_bytes_per_s": round(nbytes / audio_s)}


def size_table(kit_ids: list[str], rows: pd.DataFrame, cfg: dict, max_seconds: float) -> pd.DataFrame:
    info = gmd.read_info(GMD_ROOT)
    r = cfg["render"]
    full = gmd.assign_kits(info, kit_ids, r["kit_split"], r["kits_per_track"], r["seed"], None, None,
                           r.get("split_by", "official"))
    secs = full.groupby("kit").seconds.sum()
    out = []
    for kit in kit_ids:
        d = throughput(kit, rows, False, max_seconds, r)
        m = throughput(kit, rows, True, max_seconds, r)
        pool = full[full.kit == kit].split.iloc[0] if (full.kit == kit).any() else ""
        out.append({"kit": kit, "pool": pool, "assigned_h": round(secs.get(kit, 0.0) / 3600, 3),
                    "drums_B_per_s": d["flac_bytes_per_s"], "mix_B_per_s": m["flac_bytes_per_s"],
                    "gmd_synth_MB": round(secs.get(kit, 0.0) * d["flac_bytes_per_s"] / 1e6, 1),
                    "gmd_synth_mix_MB": round(secs.get(kit, 0.0) * m["flac_bytes_per_s"] / 1e6, 1),
                    "x_rt_per_core_drums": d["x_realtime_per_core"], "x_rt_per_core_mix": m["x_realtime_per_core"]})
    return pd.DataFrame(out)


def families(kit_ids: list[str], threshold: float = 0.9) -> list[tuple[str, str, int, int]]:
    from scipy.signal import fftconvolve

    from drumscribe.synth import render

    hits, slots = {}, {}
    for k in kit_ids:
        r = render.open_kit(k)
        slots[k] = r.slots
        for s in r.slots:
            y, _ = r.render(np.array([0.01]), np.array([s]), np.array([100]), 0.2)
            y = y[:8000].astype(np.float64)
            hits[(k, s)] = y / (np.linalg.norm(y) + 1e-12)
    out = []
    for a, b in itertools.combinations(kit_ids, 2):
        common = [s for s in slots[a] if (b, s) in hits]
        same = sum(np.abs(fftconvolve(hits[(a, s)], hits[(b, s)][::-1])).max() > threshold for s in common)
        if same:
            out.append((a, b, int(same), len(common)))
    return out


def compact_fidelity(kit_ids: list[str], rows: pd.DataFrame, max_seconds: float | None) -> pd.DataFrame:
    """Original kit against its compact copy on the same performances (see the module)."""
    import librosa

    from drumscribe.synth import compact, render

    def spec_db(y):
        S = np.abs(librosa.stft(y / (np.abs(y).max() + 1e-12), n_fft=2048, hop_length=441))
        return 20 * np.log10(S + 1e-10)

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for kit in kit_ids:
            os.environ.pop(kits.COMPACT_ENV, None)
            folder = compact.compact_kit(kit, tmp)
            size = sum(f.stat().st_size for f in folder.iterdir())
            orig = render.open_kit(kit, cached=False)
            os.environ[kits.COMPACT_ENV] = tmp
            comp = render.open_kit(kit, cached=False)
            diffs, dbs, same, audio_s, cpu = [], [], True, 0.0, 0.0
            for midi in rows.midi_filename:
                hits = render.read_hits(GMD_ROOT / midi, max_seconds)
                y0, on0, dur = render.render_hits(orig, hits)
                c0 = time.process_time()
                y1, on1, _ = render.render_hits(comp, hits, dur)
                cpu += time.process_time() - c0
                audio_s += dur
                for c in on0:
                    same &= len(on0[c]) == len(on1[c])
                    if len(on0[c]) and len(on0[c]) == len(on1[c]):
                        diffs.append(np.abs(on0[c] - on1[c]).max())
                S0, S1 = spec_db(y0), spec_db(y1)
                dbs.append(np.median(np.abs(S0 - S1)[np.maximum(S0, S1) > -60]))
            os.environ.pop(kits.COMPACT_ENV, None)
            orig.close()
            out.append({"kit": kit, "compact_MB": round(size / 1e6, 2), "labels_equal_count": bool(same),
                        "max_label_diff_ms": round(1000 * max(diffs), 2) if diffs else None,
                        "median_abs_db_diff": round(float(np.median(dbs)), 2),
                        "compact_x_rt_per_core": round(audio_s / max(cpu, 1e-9), 1)})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=6, help="performances per throughput case")
    ap.add_argument("--seconds", type=float, default=30.0, help="crop each performance (s); 0 = whole")
    ap.add_argument("--kits", nargs="*", default=["fluidr3_standard", "avl_black_pearl", "hydrogen_black_pearl"])
    ap.add_argument("--mix-kit", default="hydrogen_black_pearl")
    ap.add_argument("--size", action="store_true", help="also estimate size on disk per kit (full default)")
    ap.add_argument("--size-tracks", type=int, default=2)
    ap.add_argument("--families", action="store_true")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--compact", action="store_true", help="compare each of --kits ('all': every kit) with its compact copy")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    cfg = _config()
    print(f"# bench_render  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  "
          f"{platform.processor() or platform.machine()}  cpus={os.cpu_count()}  load={os.getloadavg()[0]:.1f}")
    all_ids = kits.resolve_kits(cfg["render"].get("kits", "all"))
    if args.families:
        for a, b, n, m in families(all_ids):
            print(f"{a:32s} {b:32s} {n:2d}/{m} slots alike")
        return
    info = gmd.read_info(GMD_ROOT)
    rows = _sample_tracks(info, args.tracks)
    max_s = args.seconds or None
    if args.compact:
        ids = all_ids if args.kits == ["all"] else args.kits
        tab = compact_fidelity(ids, rows, max_s)
        print(tab.to_string(index=False))
        print(f"total {tab.compact_MB.sum():.1f} MB for {len(tab)} kits")
        return
    if not args.no_throughput:
        res = [throughput(k, rows, False, max_s, cfg["render"]) for k in args.kits]
        res.append(throughput(args.mix_kit, rows, True, max_s, cfg["render"]))
        print(pd.DataFrame(res).to_string(index=False))
    if args.size:
        tab = size_table(all_ids, _sample_tracks(info, args.size_tracks, seed=1), cfg, max_s)
        print(tab.to_string(index=False))
        tot_d, tot_m = tab.gmd_synth_MB.sum(), tab.gmd_synth_mix_MB.sum()
        print(f"total: gmd_synth {tot_d:.0f} MB, gmd_synth_mix {tot_m:.0f} MB, "
              f"{tab.assigned_h.sum():.2f} h of audio each")


if __name__ == "__main__":
    main()
