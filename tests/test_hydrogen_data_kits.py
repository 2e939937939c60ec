"""The kits of Debian's hydrogen-data (GMRockKit, TR808EmulationKit): registered, rendered, compacted."""

from __future__ import annotations

import numpy as np
import pytest

from drumscribe import CLASSES, cli
from drumscribe.labels import ROLAND_TO_CLASS
from drumscribe.synth import kits, render
from kit_hits import spaced_hits as _hits

SR = 44100
NEW_KITS = {"hydrogen_gmrock": "GMRockKit", "hydrogen_tr808": "TR808EmulationKit"}
#: one GMD note per class, then the articulations these kits have
NOTES = (36, 38, 48, 42, 49, 46, 44, 43, 51, 40)


def _kit(kit_id):
    kit = kits.get_kit(kit_id)
    if not kit.installed:
        pytest.skip(f"{kit.source}: hydrogen-data not installed")
    return kit


@pytest.mark.parametrize("kit_id", sorted(NEW_KITS))
def test_registered_with_own_family_and_licence(kit_id):
    kit = _kit(kit_id)
    assert kit.source.name == NEW_KITS[kit_id] and kit.kind == "hydrogen"
    assert "GPL-2+" in kit.license and "hydrogen-data" in kit.license
    rows = {r["kit"]: r for r in kits.list_kits()}
    assert rows[kit_id]["classes"] == "BD/SD/TT/HH/CY" and rows[kit_id]["usable"]
    assert kits.resolve_kits([kit_id]) == [kit_id]
    if kit_id == "hydrogen_gmrock":
        # The Black Pearl's samples (same author): its family, a test family; not in `all`
        assert kit.family == kits.families()["hydrogen_black_pearl"] == "avl"
        assert kit_id not in kits.resolve_kits("all")
    else:
        assert kit.family == kit_id  # no other kit shares its samples
        assert kit_id in kits.resolve_kits("all")


def test_gmrock_is_the_black_pearl():
    """Why hydrogen_gmrock is in the avl family: most of its hits are The Black Pearl's."""
    _kit("hydrogen_gmrock")
    _kit("hydrogen_black_pearl")
    a, b = render.open_kit("hydrogen_gmrock", cached=False), render.open_kit("hydrogen_black_pearl", cached=False)

    def hit(r, slot):
        y, _ = r.render(np.array([0.01]), np.array([slot]), np.array([100]), 0.2)
        y = y[:8000].astype(np.float64)
        return y / (np.linalg.norm(y) + 1e-12)

    common = [s for s in a.slots if s in b.slots]
    same = sum(np.abs(np.correlate(hit(a, s), hit(b, s), "full")).max() > 0.9 for s in common)
    assert same >= 10 and len(common) == 14


@pytest.mark.parametrize("kit_id", sorted(NEW_KITS))
def test_renders_onsets_on_all_five_classes(kit_id, compact_dir=None):
    kit = _kit(kit_id)
    r = render.open_kit(kit, cached=False)
    hits = _hits(NOTES)
    y, onsets, dur = render.render_hits(r, hits, float(hits.times[-1] + 0.4))
    assert all(len(onsets[c]) >= 1 for c in CLASSES), {c: len(v) for c, v in onsets.items()}
    labels = sorted(t for c in CLASSES for t in onsets[c])
    played = [n for n in NOTES if n in render.kit_note_map(r.slots)]
    assert len(labels) == len(played) >= 5
    # each label sits where its hit starts: quiet just before, loud just after
    for t in labels:
        i = int(round(t * SR))
        before = np.sqrt(np.mean(y[max(0, i - 441 - 220): i - 220] ** 2)) + 1e-9
        after = np.sqrt(np.mean(y[i: i + 441] ** 2))
        assert after > 4 * before, (kit_id, t)
    first = {c: onsets[c][0] for c in CLASSES}
    for note in (36, 38, 48, 42, 49):  # the first five hits: one of each class, 1.5 s apart
        c = ROLAND_TO_CLASS[note]
        assert abs(first[c] - hits.times[list(NOTES).index(note)]) < 0.02


def test_compact_copy_renders_the_same_classes(tmp_path, monkeypatch):
    _kit("hydrogen_gmrock")
    assert cli.main(["compact-kits", str(tmp_path), "--kits", "hydrogen_gmrock"]) == 0
    folder = tmp_path / "hydrogen_gmrock"
    assert (folder / "drumkit.xml").is_file() and len(list(folder.glob("*.ogg"))) >= 14
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path))
    kit = kits.get_kit("hydrogen_gmrock")
    assert kit.source == folder and kit.family == "avl"  # the copy keeps the family
    hits = _hits(NOTES)
    y, onsets, _ = render.render_hits(render.open_kit(kit, cached=False), hits, float(hits.times[-1] + 0.4))
    assert all(len(onsets[c]) >= 1 for c in CLASSES)
