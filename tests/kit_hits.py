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
