"""Shared by the kit tests: a few drum hits, one every ``gap`` seconds, as a renderer's input."""

import numpy as np

from drumscribe.synth import render


def spaced_hits(notes, gap=1.5, start=0.1017, vel=100) -> render.Hits:
    """``notes`` (GM drum notes) played one every ``gap`` s from ``start`` at velocity ``vel``;
    the track ends 0.1 s after the last hit."""
    t = start + gap * np.arange(len(notes))
    return render.Hits(t, np.asarray(notes), np.full(len(notes), vel), float(t[-1] + 0.1))


def assert_labels_on_audible_onsets(kit_id, renderer, hits, y, onsets, sr, min_played=1) -> None:
    """Every played note of ``hits`` has one label, in its class, at most 20 ms after the note,
    quiet just before it and loud within 50 ms after it (peaks: a brush swirl rises slowly);
    notes the kit has no slot for are neither played nor labelled."""
    from drumscribe import CLASSES
    from drumscribe.labels import ROLAND_TO_CLASS

    nmap = render.kit_note_map(renderer.slots)
    played = [(t, n) for t, n in zip(hits.times, hits.notes) if n in nmap]
    labels = sorted(t for c in CLASSES for t in onsets[c])
    assert len(labels) == len(played) >= min_played
    for (t0, note), lab in zip(played, labels):
        assert t0 - 1.0 / sr <= lab < t0 + 0.02, (kit_id, note, t0, lab)
        assert any(abs(lab - x) < 1e-9 for x in onsets[ROLAND_TO_CLASS[note]])
        i = int(round(lab * sr))
        before = np.abs(y[max(0, i - 661): i - 220]).max() + 1e-9
        after = np.abs(y[i: i + 2205]).max()
        assert after > 4 * before, (kit_id, note, lab)


def slot_hits(kit_id) -> dict:
    """One hit at velocity 100 on every slot of the kit, the first 8,000 samples, unit norm."""
    r = render.open_kit(kit_id)
    out = {}
    for s in r.slots:
        y, _ = r.render(np.array([0.01]), np.array([s]), np.array([100]), 0.2)
        y = y[:8000].astype(np.float64)
        out[s] = y / (np.linalg.norm(y) + 1e-12)
    return out


def slots_alike(a, b) -> int:
    """Slots two kits share a sample on (normalised cross-correlation > 0.9; bench_render --families)."""
    from scipy.signal import fftconvolve

    return sum(np.abs(fftconvolve(a[s], b[s][::-1])).max() > 0.9 for s in a if s in b)
