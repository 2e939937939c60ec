"""Why real onsets of one class are missed: every annotated onset of ``--cls`` (default TT) of the real MDB songs, explained.

Each song is rendered in the suite's conditions (``drumscribe.robustness.render_condition``;
default ``drums`` and ``mix_natural``), written to a float WAV and transcribed with
``Transcriber(model).transcribe(path)`` by the fold model that never heard it: the path
``drumscribe transcribe`` and the robustness suite run (docs/robustness.md, "How a model is
scored"). For every annotated onset of the class (``annotations/class``) it records:

- ``detected``: matched by an onset of the class at the model's own thresholds (mir_eval maximum
  matching, ``--window`` 50 ms, as ``drumscribe.metrics``);
- ``max_act`` / ``max_offset_ms``: the class's largest activation within the window and
  where it lies; ``threshold``: the model's threshold of the class (the picker's ``delta``: a frame
  is an onset when it is a local maximum and at least ``delta`` above the moving mean of the
  10 frames before and 2 after, ``drumscribe.peaks``); ``mean_at_max``: that moving mean
  at the maximum's frame; ``prev_gap_ms``: time since the previous annotated onset of the class;
- ``recover_threshold``: the largest threshold of ``--grid`` at which the onset is matched
  (the other classes' thresholds left as they are); empty when none is;
- ``other_fired``: other classes with an onset within the window; ``heard_as``: those whose
  onset there is a false alarm of that class (matched to no annotation of its own class);
  ``annotated_with``: other classes annotated within the window (a tom hit together with a kick);
- ``max_act_<class>``: every class's largest activation within the window;
- ``subclass``: the MDB subclass label (for toms HIT high, MHT mid, HFT high floor, LFT low floor
  tom; for hi-hats CHH closed, OHH open, PHH pedal; ...) from ``annotations/subclass``.

A miss is, in this order: ``under_threshold`` when a peak of the class would match it at some
threshold of ``--grid`` not below ``--floor`` (default the lowest value the project's
threshold tuning may pick, ``peaks.DEFAULT_THRESHOLD_GRID``); ``one_peak_for_two`` when no
threshold gives it a peak of its own, the class's activation within the window reaches
``--floor`` and another annotated onset of the class lies within ``--pair-ms`` (the model's one
peak serves the neighbouring stroke); ``heard_as_other`` when another class fired falsely
within the window; ``activation_no_peak`` when the class reaches ``--floor`` there but no peak
of its own forms; else ``nothing``. ``heard_as`` is recorded for every miss whatever its
category. Over all songs (with onsets of the class or not), the class's counts at every threshold of ``--grid`` give
the false alarms a lower threshold costs.

    .venv/bin/python benchmarks/onset_misses.py --out docs/results/tom-misses-2026-12-08
    .venv/bin/python benchmarks/onset_misses.py --cls BD --conditions reverb --out OUT

``--fold-models`` (default release 6's three) assigns each song to the fold whose checkpoint
lists it under ``fold.test``; ``--suite NAME`` uses a ``robustness.models`` mapping of
config/config.yaml instead. Writes OUT/onsets.csv (one row per condition and onset of the class),
OUT/threshold_sweep.csv (condition, song, threshold: the class's tp/fp/fn), OUT/summary.md and
OUT/run.json (command, seconds, models).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MDB = REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"
RELEASE6 = [REPO / "docs" / "results" / "release6-2026-12-02" / "models" / f"fold{k}.pt" for k in range(3)]
CATEGORIES = ("under_threshold", "one_peak_for_two", "heard_as_other", "activation_no_peak", "nothing")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rel(path) -> str:
    """``path`` relative to the repository where it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def song_models(args, songs, config) -> dict[str, Path]:
    """Song → checkpoint: from ``--suite`` (a robustness.models mapping) or from the
    ``fold.test`` list of each ``--fold-models`` checkpoint."""
    from drumscribe.errors import ConfigError
    from drumscribe.robustness import song_model

    if args.suite:
        spec = config["robustness"]["models"].get(args.suite)
        if spec is None:
            raise ConfigError(f"--suite: {args.suite!r} is not a name of robustness.models")
        if isinstance(spec, dict):
            spec = {song: str(REPO / p) for song, p in spec.items()}
        elif spec != "package":
            spec = str(REPO / spec)
        return {s: song_model(spec, s)[0] for s in songs}
    from drumscribe import models

    owner: dict[str, Path] = {}
    for path in map(Path, args.fold_models):
        _, meta = models.load_checkpoint(path, map_location="cpu")
        for song in (meta.get("fold") or {}).get("test") or ():
            owner[song] = path
    missing = [s for s in songs if s not in owner]
    if missing:
        raise ConfigError(f"--fold-models: no checkpoint lists {', '.join(missing)} under fold.test")
    return {s: owner[s] for s in songs}


def subclasses_of(ann_path, cls: str, times: np.ndarray) -> list[str]:
    """The MDB subclass label of each class-file onset of ``cls`` (``""`` where none matches within 1 ms)."""
    from drumscribe.labels import GM_TO_CLASS, MDB_SUBCLASS_TO_GM
    from drumscribe.references import read_annotation_txt

    out = [""] * len(times)
    if not ann_path or not Path(ann_path).is_file():
        return out
    for label, note in MDB_SUBCLASS_TO_GM.items():
        if GM_TO_CLASS.get(note) != cls:
            continue
        for t in read_annotation_txt(ann_path, {label: cls})[cls]:
            i = int(np.argmin(np.abs(times - t))) if len(times) else -1
            if i >= 0 and abs(times[i] - t) <= 1e-3:
                out[i] = label
    return out


def matched(ref: np.ndarray, est: np.ndarray, window: float) -> tuple[set[int], set[int]]:
    """Indices of the matched references and estimates (the maximum matching that
    ``drumscribe.metrics.match_counts`` counts)."""
    import mir_eval

    if len(ref) == 0 or len(est) == 0:
        return set(), set()
    pairs = mir_eval.util.match_events(ref, est, window)
    return {i for i, _ in pairs}, {j for _, j in pairs}


def analyse(song, cond, model, tr, ref, result, cls, grid, window, floor, pair_s, subclasses):
    """(per-onset rows, sweep rows) of one song in one condition."""
    from drumscribe import CLASSES
    from drumscribe.metrics import class_counts
    from drumscribe.peaks import picker_mean, pick_onsets

    acts, fps, onsets = result.activations, result.fps, result.onsets
    counts = class_counts(ref, onsets, window)
    ci = CLASSES.index(cls)
    ref_c = np.asarray(ref[cls], np.float64)
    # the class's threshold swept, the other classes at the model's own
    sweep, hits = [], {}
    for d in grid:
        est = pick_onsets(acts, {**tr.thresholds, cls: float(d)}, tr.peak_params, fps)[cls]
        m_ref, _ = matched(ref_c, est, window)
        hits[d] = m_ref
        sweep.append({"condition": cond, "song": song, "model": model, "threshold": round(float(d), 4),
                      "tp": len(m_ref), "fp": int(len(est) - len(m_ref)), "fn": int(len(ref_c) - len(m_ref))})
    own_ref, _ = matched(ref_c, onsets[cls], window)
    assert len(own_ref) == counts[cls][0], "matching differs from drumscribe.metrics"
    false_alarm = {}  # class -> estimated onsets of that class matched to no annotation of it
    for c in CLASSES:
        _, m_est = matched(np.asarray(ref[c], np.float64), onsets[c], window)
        false_alarm[c] = np.asarray([t for j, t in enumerate(onsets[c]) if j not in m_est])
    frame_t = np.arange(len(acts)) / fps
    pp = tr.peak_params  # the picker's moving mean of the class (its condition 2: x >= mean + threshold)
    c_mean = picker_mean(np.ascontiguousarray(acts[:, ci]), pp["pre_avg"], pp["post_avg"])
    rows = []
    for i, t in enumerate(ref_c):
        win = np.flatnonzero(np.abs(frame_t - t) <= window + 1e-9)
        if len(win):
            k = win[int(np.argmax(acts[win, ci]))]
            c_max, offset, mean_at = float(acts[k, ci]), (k / fps - t) * 1000.0, float(c_mean[k])
        else:
            c_max, offset, mean_at = float("nan"), float("nan"), float("nan")
        rec = [d for d in grid if i in hits[d]]
        other = [c for c in CLASSES if c != cls and np.any(np.abs(onsets[c] - t) <= window)]
        heard = [c for c in CLASSES if c != cls and np.any(np.abs(false_alarm[c] - t) <= window)]
        with_ = [c for c in CLASSES if c != cls and np.any(np.abs(np.asarray(ref[c]) - t) <= window)]
        detected = i in own_ref
        recover = max(rec) if rec else float("nan")
        neighbour = bool(np.any((np.abs(ref_c - t) <= pair_s) & (np.arange(len(ref_c)) != i)))
        present = bool(c_max >= floor)
        if detected:
            category = "detected"
        elif rec and recover >= floor:
            category = "under_threshold"
        elif present and neighbour:
            category = "one_peak_for_two"
        elif heard:
            category = "heard_as_other"
        else:
            category = "activation_no_peak" if present else "nothing"
        rows.append({
            "condition": cond, "song": song, "model": model, "time": round(float(t), 4),
            "subclass": subclasses[i], "detected": int(detected), "category": category,
            "class": cls, "threshold": tr.thresholds[cls], "max_act": round(c_max, 4),
            "max_offset_ms": round(offset, 1), "mean_at_max": round(mean_at, 4),
            "prev_gap_ms": round((t - ref_c[i - 1]) * 1000.0, 1) if i else float("nan"),
            "recover_threshold": recover,
            "other_fired": " ".join(other), "heard_as": " ".join(heard), "annotated_with": " ".join(with_),
            **{f"max_act_{c}": round(float(acts[win, j].max()), 4) if len(win) else float("nan")
               for j, c in enumerate(CLASSES)},
        })
    return rows, sweep


def breakdown(df, by: str | None):
    """Markdown rows: onsets, detected, each miss category, heard-as and annotated-with classes of the
    misses, under-threshold misses whose maximum passes the threshold, median maximum of misses."""
    import pandas as pd

    groups = [("all", df)] if by is None else [(k, g) for k, g in df.groupby(by, sort=True)]
    lines = []
    for key, g in groups:
        miss = g[g["detected"] == 0]
        heard = pd.Series(" ".join(miss["heard_as"]).split()).value_counts()
        heard_s = ", ".join(f"{c} {n}" for c, n in heard.items()) or "–"
        with_ = pd.Series([w for w in miss["annotated_with"] if w]).value_counts()
        with_s = ", ".join(f"{c} {n}" for c, n in with_.items()) or "–"
        under = miss[miss["category"] == "under_threshold"]
        over = int((under["max_act"] >= under["threshold"]).sum())
        med = f"{miss['max_act'].median():.2f}" if len(miss) else "–"
        lines.append(f"| {key or '(none)'} | {len(g)} | {int(g['detected'].sum())} | {len(miss)} | "
                     + " | ".join(str(int((miss["category"] == c).sum())) for c in CATEGORIES)
                     + f" | {heard_s} | {with_s} | {over} | {med} |")
    return lines


def pairs_once(dc, pair_ms: float) -> tuple[int, int]:
    """(strokes with close pairs counted once, those detected: a pair when either stroke is)."""
    n = hit = 0
    for _, g in dc.groupby("song", sort=False):
        groups, last = [], None
        for t, d in zip(g["time"], g["detected"]):
            if last is not None and (t - last) * 1000.0 <= pair_ms + 1e-6:
                groups[-1] = groups[-1] or bool(d)
            else:
                groups.append(bool(d))
            last = t
        n += len(groups)
        hit += sum(groups)
    return n, hit


def summary_md(df, sweep, cls, grid, floor, window, pair_ms, models_used, seconds) -> str:
    import pandas as pd

    head = ("| {} | " + cls + " onsets | detected | missed | under threshold | one peak for two | heard as other | "
            "activation, no peak | nothing | heard as (false alarms of, any miss) | annotated with (misses) | "
            "under threshold with max ≥ own threshold (the moving mean) | median max of misses |")
    sep = "|---" * 13 + "|"
    out = [f"# Why real {cls} onsets are missed ({len(df['song'].unique())} songs with {cls} onsets; window "
           f"{window * 1000:.0f} ms; floor {floor:g})", "",
           "Models: " + ", ".join(f"{s.replace('MusicDelta_', '')} → {m}" for s, m in models_used.items()),
           f"; {cls} thresholds: " + ", ".join(sorted({f'{Path(m).name} {t:g}' for m, t in
                                                      df[['model', 'threshold']].drop_duplicates()
                                                      .itertuples(index=False)})) + ".",
           f"Run time {seconds:.0f} s.", ""]
    for cond, dc in df.groupby("condition", sort=False):
        sc = sweep[sweep["condition"] == cond]
        out += [f"## {cond}", "", head.format("all"), sep, *breakdown(dc, None), "",
                head.format("song"), sep, *breakdown(dc, "song"), "",
                head.format("subclass"), sep, *breakdown(dc, "subclass"), ""]
        # the cost of a lower common threshold of the class, over all songs
        tot = sc.groupby("threshold")[["tp", "fp", "fn"]].sum()
        own = dc.groupby("song")["threshold"].first()
        own_tp = int(dc["detected"].sum())
        rec = dc.loc[(dc["detected"] == 0) & dc["recover_threshold"].notna(), "recover_threshold"]
        rec_floor = rec[rec >= floor]
        n_once, hit_once = pairs_once(dc, pair_ms)
        out += [f"Close pairs ({cls} onsets ≤ {pair_ms:g} ms apart) counted once, detected when either stroke is: "
                f"{hit_once} of {n_once} (recall {hit_once / n_once:.2f}, against {own_tp / len(dc):.2f} "
                f"over all {len(dc)} onsets).", ""]
        out += [f"{cls} over all {sc['song'].nunique()} songs with one {cls} threshold for every model "
                f"(other classes at their own); own thresholds: tp {own_tp} of {len(dc)}. Misses "
                f"recoverable at ≥ {floor:g}: {len(rec_floor)}"
                + (f" (their recover thresholds: median {rec_floor.median():.2f}, min {rec_floor.min():.2f}, "
                   f"max {rec_floor.max():.2f})" if len(rec_floor) else "") + ".", "",
                f"| {cls} threshold | tp | fp | fn | precision | recall | F1 |", "|---|---|---|---|---|---|---|"]
        standard = {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55}
        marks = sorted(d for d in tot.index if round(d, 4) in standard or d in set(own.values))
        for d in marks:
            tp, fp, fn = (int(tot.loc[d, c]) for c in ("tp", "fp", "fn"))
            p = tp / (tp + fp) if tp + fp else float("nan")
            r = tp / (tp + fn) if tp + fn else float("nan")
            f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
            out.append(f"| {d:g} | {tp} | {fp} | {fn} | {p:.2f} | {r:.2f} | {f:.2f} |")
        fa_songs = sc[sc["threshold"].isin(marks)].pivot_table(index="song", columns="threshold", values="fp",
                                                               aggfunc="sum")
        out += ["", f"{cls} false alarms per song at those thresholds:", "",
                "| song | " + " | ".join(f"{d:g}" for d in fa_songs.columns) + " |",
                "|---" * (len(fa_songs.columns) + 1) + "|"]
        for song, r in fa_songs.iterrows():
            out.append(f"| {song.replace('MusicDelta_', '')} | " + " | ".join(str(int(v)) for v in r.values) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    from drumscribe.peaks import DEFAULT_THRESHOLD_GRID

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--fold-models", nargs="+", default=[str(p) for p in RELEASE6],
                       help="fold checkpoints; each song by the one listing it under fold.test (default: release 6)")
    group.add_argument("--suite", default=None, help="a robustness.models name of config/config.yaml instead")
    ap.add_argument("--cls", default="TT", help="the class whose misses are explained (default TT)")
    ap.add_argument("--conditions", nargs="+", default=["drums", "mix_natural"], help="robustness conditions")
    ap.add_argument("--tracks", nargs="+", default=None,
                    help="songs (default: all; the false alarms of a lower threshold need the songs without the class too)")
    ap.add_argument("--mdb-root", default=str(DEFAULT_MDB), help="MDB Drums folder with audio/multi-tracks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window", type=float, default=0.05, help="onset tolerance in seconds")
    ap.add_argument("--grid", type=float, nargs="+", default=[round(0.01 * k, 2) for k in range(1, 81)],
                    help="thresholds of the class swept (default 0.01 to 0.80 by 0.01)")
    ap.add_argument("--floor", type=float, default=min(DEFAULT_THRESHOLD_GRID),
                    help="lowest threshold at which a peak still counts as 'activation present'")
    ap.add_argument("--pair-ms", type=float, default=70.0,
                    help="onsets of the class closer than this are a close pair (flam, double stroke): "
                         "category one_peak_for_two and the pairs-once recall of the summary")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args(argv)

    import pandas as pd
    import soundfile as sf
    import yaml

    from drumscribe import CLASSES, SAMPLE_RATE
    from drumscribe import robustness as rb
    from drumscribe.atomic import atomic_path, write_json
    from drumscribe.errors import ConfigError, DrumscribeError
    from drumscribe.transcribe import Transcriber

    t0 = time.perf_counter()
    try:
        if args.cls not in CLASSES:
            raise ConfigError(f"--cls: {args.cls!r} is not one of {', '.join(CLASSES)}")
        conditions = rb.check_conditions(args.conditions, key="--conditions")
        available = rb.mdb_tracks(args.mdb_root)
        songs = available if not args.tracks else [rb.track_name(t) for t in args.tracks]
        unknown = [s for s in songs if s not in available]
        if unknown:
            raise ConfigError(f"--tracks: {', '.join(unknown)} not among {', '.join(available)}")
        config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        owners = song_models(args, songs, config)
        refs = rb.song_references(args.mdb_root)
        grid = sorted({round(float(d), 4) for d in args.grid})
        transcribers: dict[Path, Transcriber] = {}
        rows, sweep = [], []
        with tempfile.TemporaryDirectory(prefix="drumscribe-onset-misses-") as tmp:
            for n, song in enumerate(songs, 1):
                path = owners[song]
                if path not in transcribers:
                    transcribers[path] = Transcriber(path, threads=args.threads)
                tr = transcribers[path]
                if song in rb.heard_songs(tr.meta):
                    raise ConfigError(f"{path} was trained or validated on {song}: give the fold model that never heard it")
                stems = rb.song_stems(args.mdb_root, song)
                ref = refs[song].load_onsets()
                ref = {c: np.asarray(v, np.float64) for c, v in ref.items()}
                subclasses = subclasses_of(refs[song].meta.get("annotation_subclass"), args.cls, ref[args.cls])
                for cond in conditions:
                    t1 = time.perf_counter()
                    wav = Path(tmp) / f"{song}_{cond}.wav"
                    sf.write(wav, rb.render_condition(stems, cond), SAMPLE_RATE, subtype="FLOAT")
                    result = tr.transcribe(wav, keep_activations=True)
                    wav.unlink()
                    r, s = analyse(song, cond, rel(path), tr, ref, result, args.cls,
                                   grid, args.window, args.floor, args.pair_ms / 1000.0, subclasses)
                    rows += r
                    sweep += s
                    det = sum(x["detected"] for x in r)
                    own = next((x for x in s if abs(x["threshold"] - tr.thresholds[args.cls]) < 1e-9), None)
                    log(f"onset_misses: [{n}/{len(songs)}] {song} {cond} ({path.name}, {args.cls} threshold "
                        f"{tr.thresholds[args.cls]:g}): {len(r)} {args.cls} onsets, {det} detected"
                        + (f", {args.cls} false alarms {own['fp']}" if own else "")
                        + f" ({time.perf_counter() - t1:.1f} s)")
    except DrumscribeError as error:
        log(f"onset_misses: {error}")
        return 1
    seconds = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    sw = pd.DataFrame(sweep)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "onsets.csv") as p:
        df.to_csv(p, index=False)
    with atomic_path(args.out / "threshold_sweep.csv") as p:
        sw.to_csv(p, index=False)
    used = {s: rel(p) for s, p in owners.items()}
    md = (summary_md(df, sw, args.cls, grid, args.floor, args.window, args.pair_ms, used, seconds) if len(df)
          else f"No {args.cls} onsets.\n")
    with atomic_path(args.out / "summary.md") as p:
        Path(p).write_text(md)
    write_json(args.out / "run.json", {
        "command": " ".join([sys.executable, *sys.argv]), "class": args.cls, "models": used, "conditions": conditions,
        "seconds": round(seconds, 1), "threads": args.threads, "nproc": os.cpu_count(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "platform": platform.platform(),
    })
    print(md)
    log(f"onset_misses: {seconds:.0f} s; tables in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
