"""Kits from more Debian packages: Csound's GM bank (csound-soundfont) and LMMS's drum one-shots
(lmms-common, the ``oneshot`` kind): registered, mapped, rendered, compacted, in their families."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from drumscribe import CLASSES, cli
from drumscribe.errors import ConfigError, InputError
from drumscribe.labels import GM_TO_CLASS
from drumscribe.synth import fluid, kits, render
from kit_hits import assert_labels_on_audible_onsets, slot_hits, slots_alike, spaced_hits as _hits

SR = 44100
CSOUND_KITS = ("csound_standard", "csound_power", "csound_brush")
LMMS_KITS = ("lmms_a", "lmms_b", "lmms_c")
#: a GMD-like bar: kick, snare, closed hat, tom, crash, then the articulations (1.5 s apart)
NOTES = (36, 38, 42, 48, 49, 46, 44, 43, 51, 40, 37)


def _kit(kit_id):
    kit = kits.get_kit(kit_id)
    if kit.kind == "soundfont" and not fluid.available():
        pytest.skip("libfluidsynth not installed (apt-get install fluidsynth)")
    if not kit.installed:
        pkg = "csound-soundfont" if kit_id.startswith("csound") else "lmms-common"
        pytest.skip(f"{kit.source}: {pkg} not installed (setup.sh installs it)")
    return kit


def _all_kits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kits.resolve_kits("all")


# ---------------------------------------------------------------- the lmms file-name mapping

#: lmms-common's drum file names -> GM slot (None: not mapped, the name does not say which sound)
LMMS_NAMES = {
    "bassdrum01.ogg": 36, "bassdrum_acoustic02.ogg": 36, "kick03.ogg": 36, "kick_soft02.ogg": 36,
    "kick_hiphop01.ogg": 36, "snare01.ogg": 38, "snare_muffled02.ogg": 38, "snare_electro01.ogg": 38,
    "snare_rim01.ogg": 40, "sidestick01.ogg": 37,
    "hihat_closed05.ogg": 42, "hihat_opened02.ogg": 46, "hihat_foot_pedal01.ogg": 44,
    "tom_hi01.ogg": 48, "tom_mid01.ogg": 45, "tom_low01.ogg": 43,
    "crash02.ogg": 49, "ride01.ogg": 51,
    "tom03.ogg": None, "rim01.ogg": None, "nasty_rim01.ogg": None, "nasty_snare01.ogg": None,
    "nasty_bass01.ogg": None, "clap01.ogg": None, "clav02.ogg": None, "shaker03.ogg": None,
    "wood01.ogg": None, "zap01.ogg": None,
}


def test_oneshot_names_map_to_the_right_slot():
    got = {name: kits.oneshot_slot(name) for name in LMMS_NAMES}
    assert got == LMMS_NAMES


def test_oneshot_folder_candidates_and_deterministic_picks(tmp_path):
    for name in ("kick02.wav", "kick01.wav", "snare01.wav", "hihat_closed01.wav", "hihat_closed02.wav",
                 "clap01.wav", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert kits.oneshot_candidates(tmp_path) == {36: ("kick01.wav", "kick02.wav"), 38: ("snare01.wav",),
                                                 42: ("hihat_closed01.wav", "hihat_closed02.wav")}
    assert kits.oneshot_candidates(tmp_path, exclude={"kick01.wav"})[36] == ("kick02.wav",)
    k = kits.Kit("t", "oneshot", tmp_path, "t", "x", preset=1)
    assert {s: p.name for s, p in kits.oneshot_picks(k).items()} == {
        36: "kick02.wav", 38: "snare01.wav", 42: "hihat_closed02.wav"}  # wraps round on one snare


def test_lmms_kits_map_the_installed_files():
    _kit("lmms_a")
    cands = kits.oneshot_candidates(kits.LMMS_DRUMS_DIR)
    assert len(cands[42]) == 5 and len(cands[46]) == 3 and len(cands[36]) >= 15 and len(cands[38]) >= 14
    picks = {k: {s: p.name for s, p in kits.oneshot_picks(kits.get_kit(k)).items()} for k in LMMS_KITS}
    assert picks["lmms_a"] == {36: "bassdrum01.ogg", 38: "snare01.ogg", 40: "snare_rim01.ogg",
                               42: "hihat_closed01.ogg", 44: "hihat_foot_pedal01.ogg", 46: "hihat_opened01.ogg",
                               49: "crash01.ogg", 51: "ride01.ogg"}
    for kid, p in picks.items():
        assert all(GM_TO_CLASS[s] == GM_TO_CLASS[kits.oneshot_slot(f)] for s, f in p.items())
        assert not set(p.values()) & kits.LMMS_SHARED_FILES  # TimGM6mb's samples are left out
    # each kit has its own kick, snare, closed and open hat
    for s in (36, 38, 42, 46):
        assert len({p[s] for p in picks.values()}) == 3
    rows = {r["kit"]: r for r in kits.list_kits()}
    assert all(rows[k]["classes"] == "BD/SD/HH/CY" and rows[k]["kind"] == "oneshot" for k in LMMS_KITS)


# ---------------------------------------------------------------- registry, families, `all`

def test_registered_with_the_measured_families():
    reg = {k.kit_id: k for k in kits.all_kits()}
    fam = kits.families()
    for kid in CSOUND_KITS + ("csound_room",):
        assert reg[kid].kind == "soundfont" and reg[kid].source.name == "sf_GMbank.sf2" and reg[kid].bank == 128
        assert "public domain" in reg[kid].license and "csound-soundfont" in reg[kid].license
        assert fam[kid] == fam["timgm6mb_standard"] == "timgm6mb"  # mostly TimGM6mb's samples (17/22 slots)
    assert "csound_jazz" not in reg  # sample-identical to csound_standard
    assert kits.DUPLICATE_KITS["csound_room"] == "csound_standard"
    for kid in LMMS_KITS:
        assert reg[kid].kind == "oneshot" and "lmms-common" in reg[kid].license
        assert fam[kid] == "lmms"
    assert not {k for k, f in fam.items() if f == "lmms"} - set(LMMS_KITS)


def test_in_all_when_installed_and_refused_when_named_but_missing(tmp_path, monkeypatch):
    ids = _all_kits()
    for kid in CSOUND_KITS + LMMS_KITS:
        if kits.get_kit(kid).installed:
            assert kid in ids
    assert "csound_room" not in ids
    # a missing package: skipped with a warning in `all`, a ConfigError when named
    missing = kits.Kit("lmms_a", "oneshot", tmp_path / "absent", "x", "x", family="lmms")
    monkeypatch.setattr(kits, "_reg", lambda hydrogen_dir=None: {"lmms_a": missing})
    with pytest.warns(UserWarning, match="lmms_a not installed"):
        assert kits.resolve_kits("all") == []
    with pytest.raises(ConfigError, match="lmms_a is not installed"):
        kits.resolve_kits(["lmms_a"])


def test_the_new_kits_share_no_sample_across_families():
    """What bench_render.py --families measured, on the hits the tests render: lmms kits match no
    other kit's slot; csound_standard matches TimGM6mb Standard on most slots."""

    for kid in ("lmms_a", "csound_standard", "timgm6mb_standard", "fluidr3_standard"):
        _kit(kid)


    lm, cs, tg, fl = (slot_hits(k) for k in ("lmms_a", "csound_standard", "timgm6mb_standard", "fluidr3_standard"))
    assert slots_alike(cs, tg) >= 15
    assert slots_alike(lm, tg) == slots_alike(lm, cs) == slots_alike(lm, fl) == 0


# ---------------------------------------------------------------- rendering

@pytest.mark.parametrize("kit_id", CSOUND_KITS + LMMS_KITS)
def test_renders_onsets_where_the_notes_are(kit_id):
    _kit(kit_id)
    r = render.open_kit(kit_id)
    hits = _hits(NOTES)
    y, onsets, _ = render.render_hits(r, hits, float(hits.times[-1] + 0.5))
    assert np.abs(y).max() > 0.01
    classes = kits.kit_classes(kits.get_kit(kit_id))
    assert {c for c in CLASSES if len(onsets[c])} == set(classes)
    assert_labels_on_audible_onsets(kit_id, r, hits, y, onsets, SR, min_played=8)


def test_oneshot_velocity_scales_the_gain():
    _kit("lmms_a")
    r = render.open_kit("lmms_a")
    loud, _ = r.render([0.01], [38], [127], 0.3)
    soft, _ = r.render([0.01], [38], [40], 0.3)
    np.testing.assert_allclose(soft, loud * (40 / 127), atol=1e-6)


def test_unreadable_sample_is_one_line_error_naming_it(tmp_path):
    (tmp_path / "kick01.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt broken")
    k = kits.Kit("t_bad", "oneshot", tmp_path, "t", "x")
    with pytest.raises(InputError, match="kick01.wav") as err:
        render.open_kit(k)
    assert "\n" not in str(err.value)


def test_compact_copies_of_the_new_kinds(tmp_path, monkeypatch):
    _kit("lmms_a")
    _kit("csound_standard")
    assert cli.main(["compact-kits", str(tmp_path), "--kits", "lmms_a", "csound_standard", "--layers", "2"]) == 0
    assert len(list((tmp_path / "lmms_a").glob("*.ogg"))) == 8  # one layer each: single-velocity one-shots
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path))
    for kid, fam in (("lmms_a", "lmms"), ("csound_standard", "timgm6mb")):
        kit = kits.get_kit(kid)
        assert kit.source == tmp_path / kid and kit.family == fam
        hits = _hits(NOTES)
        _, onsets, _ = render.render_hits(render.open_kit(kit, cached=False), hits, float(hits.times[-1] + 0.5))
        assert {c for c in CLASSES if len(onsets[c])} == set(kits.kit_classes(kit))


def test_cli_kits_lists_them(capsys):
    _kit("lmms_a")
    _kit("csound_standard")
    assert cli.main(["kits"]) == 0
    out = capsys.readouterr().out
    assert all(f"{k}  " in out for k in CSOUND_KITS + LMMS_KITS)
