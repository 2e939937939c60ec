"""Kits from two more Debian packages: eXaDrums' kit (exadrums, the ``oneshot`` kind mapped by its
own Default.xml) and FreePats' GUS drum set (freepats, the ``timidity`` kind: TiMidity++ as a
subprocess): registered, mapped, rendered with labels on the audible onset, compacted, in their
families, and one-line errors naming what is missing."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from drumscribe import CLASSES, cli
from drumscribe.errors import ConfigError, InputError
from drumscribe.labels import GM_TO_CLASS
from drumscribe.synth import kits, render, timidity
from drumscribe.synth.onset import ONSET_REL_DB, first_crossing
from kit_hits import assert_labels_on_audible_onsets, slot_hits, slots_alike, spaced_hits as _hits

SR = 44100
EXA, FREE = "exadrums_default", "freepats_standard"
#: a GMD-like bar: kick, snare, closed hat, tom, crash, then the articulations (1.5 s apart)
NOTES = (36, 38, 42, 48, 49, 46, 44, 43, 51, 40, 37, 53, 57)
#: what Debian exadrums' Default.xml names, by GM slot (the kit's own files and volumes)
EXA_FILES = {36: "BD_Acou_01.wav", 38: "Snr_Acou_01.wav", 42: "HiHat.wav", 43: "Tom03.wav", 48: "Tom01.wav",
             49: "Crash_High.wav", 51: "RideEdge.wav", 53: "RideBell.wav"}
EXA_VOLUMES = {36: 1.0, 38: 1.0, 42: 1.0, 43: 0.5, 48: 0.5, 49: 0.35, 51: 1.0, 53: 1.0}


def _kit(kit_id):
    kit = kits.get_kit(kit_id)
    if not kit.installed:
        what = "exadrums (setup.sh unpacks it)" if kit_id == EXA else "timidity and freepats (setup.sh installs them)"
        pytest.skip(f"{kit.source}: {what} not installed")
    return kit


# ---------------------------------------------------------------- registry and mapping

def test_registered_kinds_families_licences():
    reg = {k.kit_id: k for k in kits.all_kits()}
    exa, free = reg[EXA], reg[FREE]
    assert exa.kind == "oneshot" and exa.meta["xml"] == "Default.xml" and exa.source == kits.EXADRUMS_DIR
    assert "BSD-3-Clause" in exa.license and "Phill Mason" in exa.license
    assert free.kind == "timidity" and free.source == kits.FREEPATS_CFG and free.channel == 9 and free.preset == 0
    assert "GPL-2+" in free.license and "freepats" in free.license
    fam = kits.families()
    # measured (bench_render.py --families, docs/gmd_synth.md): neither shares a sample with another kit
    assert fam[EXA] == "exadrums" and fam[FREE] == "freepats"
    assert [k for k, f in fam.items() if f in ("exadrums", "freepats")] == [EXA, FREE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = kits.resolve_kits("all")
    for kid in (EXA, FREE):
        if reg[kid].installed:
            assert kid in ids


def test_exadrums_slots_come_from_its_xml():
    kit = _kit(EXA)
    picks = kits.oneshot_picks(kit)
    assert {s: p.name for s, p in picks.items()} == EXA_FILES
    assert all(p.parent == kits.EXADRUMS_DIR and p.is_file() for p in picks.values())
    assert kits.oneshot_volumes(kit) == EXA_VOLUMES
    assert kits.kit_classes(kit) == ("BD", "SD", "TT", "HH", "CY")
    # one hi-hat sample (closed): GMD's pedal and open hats play it, labelled HH
    nmap = render.kit_note_map(kits.kit_slots(kit))
    assert nmap[42] == nmap[44] == nmap[46] == nmap[22] == nmap[26] == 42
    assert nmap[53] == 53 and nmap[59] == 51 and nmap[45] == 43 and nmap[50] == 48


def test_exadrums_xml_is_read_not_hard_coded(tmp_path):
    """Another file and volume in the XML change the kit; instruments the table does not know are unused."""
    xml = tmp_path / "Default.xml"
    xml.write_text("""<root><kitName>T</kitName>
      <Instrument type="Pad" volume="80"><instrumentName>Kick</instrumentName>
        <sounds><sound type="DrumHead">BassDrum/other_kick.wav</sound></sounds></Instrument>
      <Instrument type="Pad" volume="100"><instrumentName>Cowbell</instrumentName>
        <sounds><sound type="DrumHead">cb.wav</sound></sounds></Instrument>
      <Instrument type="DualZonePad" volume="60"><instrumentName>Ride</instrumentName>
        <sounds><sound type="DrumHead">Ride/r.wav</sound><sound type="RimShot">Ride/b.wav</sound></sounds>
      </Instrument></root>""")
    (tmp_path / "other_kick.wav").write_bytes(b"")  # Debian's layout: files beside the XML
    (tmp_path / "Ride").mkdir()
    (tmp_path / "Ride" / "r.wav").write_bytes(b"")  # the XML's own layout
    got = kits.exadrums_picks(xml)
    assert got == {36: (tmp_path / "other_kick.wav", 0.8), 51: (tmp_path / "Ride" / "r.wav", 0.6),
                   53: (tmp_path / "b.wav", 0.6)}


# ---------------------------------------------------------------- rendering

@pytest.mark.parametrize("kit_id", [EXA, FREE])
def test_renders_onsets_where_the_notes_are(kit_id):
    _kit(kit_id)
    r = render.open_kit(kit_id)
    if kit_id == FREE:
        assert r.slots == kits.SLOTS  # FreePats' Drum_000 has every GM slot GMD plays
    hits = _hits(NOTES)
    y, onsets, _ = render.render_hits(r, hits, float(hits.times[-1] + 0.5))
    assert np.abs(y).max() > 0.01
    assert {c for c in CLASSES if len(onsets[c])} == set(CLASSES)
    assert_labels_on_audible_onsets(kit_id, r, hits, y, onsets, SR, min_played=len(NOTES))


def test_exadrums_volumes_and_velocity_scale_the_gain():
    _kit(EXA)
    r = render.open_kit(EXA)
    loud, _ = r.render([0.01], [49], [127], 0.3)
    soft, _ = r.render([0.01], [49], [40], 0.3)
    np.testing.assert_allclose(soft, loud * (40 / 127), atol=1e-6)
    crash_sample, _ = r.drumkit._sample(r.drumkit.instruments[r.drumkit.slot_map[49]].layers[0])
    assert np.abs(loud).max() == pytest.approx(0.35 * np.abs(crash_sample).max(), rel=1e-5)  # the XML's volume="35"


def test_timidity_starts_each_note_on_its_sample_and_measures_hits_as_rendered_alone():
    kit = _kit(FREE)
    r = render.open_kit(FREE)
    times = np.array([0.05, 0.40037, 0.80001, 1.2])
    slots, vels = np.array([38, 49, 42, 36]), np.array([100, 64, 127, 30])
    y, labels = r.render(times, slots, vels, 1.6)
    for t, s, v, lab in zip(times, slots, vels, labels):
        assert lab == pytest.approx(round(t * SR) / SR + r.delay(s, v), abs=1e-12)
        alone, starts = timidity.render(kit.source, [t], [s], [v], 1.6)
        assert starts[0] == round(t * SR)
        i = first_crossing(alone[starts[0]: starts[0] + int(0.25 * SR)], ONSET_REL_DB)
        assert (starts[0] + i) / SR == pytest.approx(lab, abs=1e-12)
    # deterministic (no dither), and silent where TiMidity's velocity curve gives 0: not labelled
    y2, _ = r.render(times, slots, vels, 1.6)
    assert np.array_equal(y, y2)
    quiet, lab = r.render([0.05], [38], [1], 0.3)
    assert not np.any(quiet) and np.isnan(lab[0])


# ---------------------------------------------------------------- families

def test_no_sample_shared_with_the_kits_most_alike():
    """What bench_render.py --families measured, on a hit per slot at velocity 100: no slot of
    FreePats matches TimGM6mb's, Csound's or FluidR3's (nor exadrums'), none of exadrums' a
    Hydrogen or AVL kit's."""

    others = ("timgm6mb_standard", "csound_standard", "fluidr3_standard", "hydrogen_black_pearl", "hydrogen_colombo")
    _kit(EXA)
    _kit(FREE)
    for kid in others:
        if not kits.get_kit(kid).installed:
            pytest.skip(f"{kits.get_kit(kid).source}: {kid} not installed (setup.sh installs it)")


    got = {k: slot_hits(k) for k in (EXA, FREE) + others}
    assert slots_alike(got[FREE], got[FREE]) == 22  # the measure itself finds a sample
    for kid in others + (EXA,):
        assert slots_alike(got[FREE], got[kid]) == 0, kid
    for kid in others:
        assert slots_alike(got[EXA], got[kid]) == 0, kid


# ---------------------------------------------------------------- compact copies

def test_compact_round_trip(tmp_path, monkeypatch):
    _kit(EXA)
    _kit(FREE)
    orig = {kid: render.render_hits(render.open_kit(kid), _hits(NOTES), float(1.5 * len(NOTES) + 0.5))[1]
            for kid in (EXA, FREE)}
    assert cli.main(["compact-kits", str(tmp_path), "--kits", EXA, FREE, "--layers", "2"]) == 0
    assert sorted(f.name for f in (tmp_path / EXA).glob("*.ogg")) == sorted(f"{s}_0.ogg" for s in EXA_FILES)
    assert len(list((tmp_path / FREE).glob("*.ogg"))) == 2 * len(kits.SLOTS)
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path))
    # the copy needs no TiMidity: a GPU machine without it renders the compact FreePats kit
    monkeypatch.setenv(timidity.TIMIDITY_ENV, str(tmp_path / "no-timidity-here"))
    for kid, fam in ((EXA, "exadrums"), (FREE, "freepats")):
        kit = kits.get_kit(kid)
        assert kit.kind == "hydrogen" and kit.source == tmp_path / kid and kit.family == fam
        _, onsets, _ = render.render_hits(render.open_kit(kit, cached=False), _hits(NOTES),
                                          float(1.5 * len(NOTES) + 0.5))
        for c in CLASSES:
            assert len(onsets[c]) == len(orig[kid][c]), (kid, c)
            assert np.abs(onsets[c] - orig[kid][c]).max() < 0.005, (kid, c)
    compact_exa = kits.load_kit_drumkit(kits.get_kit(EXA))
    assert compact_exa.instruments[compact_exa.slot_map[49]].volume == pytest.approx(0.35)  # the XML's crash volume


# ---------------------------------------------------------------- what is missing: one line naming it

def test_missing_timidity_is_one_line_error(monkeypatch):
    kit = _kit(FREE)
    monkeypatch.setenv(timidity.TIMIDITY_ENV, "timidity-not-installed")
    assert not kit.installed
    with pytest.raises(InputError, match=r"^timidity-not-installed: TiMidity\+\+ not installed") as err:
        render.open_kit(kit)
    assert "\n" not in str(err.value)
    monkeypatch.setattr(kits, "_reg", lambda hydrogen_dir=None: {FREE: kit})
    with pytest.raises(ConfigError, match="freepats_standard is not installed .*apt-get install timidity"):
        kits.resolve_kits([FREE])


def test_missing_patch_or_configuration_is_one_line_error_naming_it(tmp_path):
    kit = _kit(FREE)
    pats = tmp_path / "pats"
    (pats / "Drum_000").mkdir(parents=True)
    for note, patch in timidity.drum_patches(kit.source).items():
        if note != 49:
            (pats / "Drum_000" / patch.name).symlink_to(patch)
    cfg = tmp_path / "freepats.cfg"
    cfg.write_text(kit.source.read_text().replace("dir /usr/share/midi/freepats", f"dir {pats}"))
    broken = kits.Kit("t_free", "timidity", cfg, "t", "x", bank=128, preset=0, channel=9)
    with pytest.raises(InputError, match=r"Drum_000/049_Cymbal_Crash_1\.pat: drum patch of note 49") as err:
        render.open_kit(broken)
    assert str(pats) in str(err.value) and "\n" not in str(err.value)
    gone = kits.Kit("t_free", "timidity", tmp_path / "absent.cfg", "t", "x", bank=128, preset=0, channel=9)
    with pytest.raises(InputError, match="absent.cfg: TiMidity configuration not found") as err:
        render.open_kit(gone)
    assert "\n" not in str(err.value)


def test_missing_exadrums_files_are_one_line_errors_naming_them(tmp_path):
    _kit(EXA)
    shutil.copy(kits.EXADRUMS_DIR / "Default.xml", tmp_path / "Default.xml")
    for name in EXA_FILES.values():
        if name != "Crash_High.wav":
            shutil.copy(kits.EXADRUMS_DIR / name, tmp_path / name)
    kit = kits.Kit("t_exa", "oneshot", tmp_path, "t", "x", bank=-1, preset=0, channel=-1, meta={"xml": "Default.xml"})
    with pytest.raises(InputError, match=r"Crash_High\.wav: kit sample not found") as err:
        render.open_kit(kit)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "Default.xml").write_text("<root><Instrument>")
    with pytest.raises(InputError, match=r"Default\.xml: not a readable eXaDrums kit") as err:
        render.open_kit(kit)
    assert "\n" not in str(err.value)
    (tmp_path / "Default.xml").unlink()
    assert not kit.installed
    with pytest.raises(InputError, match=r"Default\.xml: eXaDrums kit not found") as err:
        render.open_kit(kit)
    assert "\n" not in str(err.value)


def test_cli_kits_lists_them(capsys):
    _kit(EXA)
    _kit(FREE)
    assert cli.main(["kits"]) == 0
    out = capsys.readouterr().out
    assert f"{EXA}  " in out and f"{FREE}  " in out
    rows = {r["kit"]: r for r in kits.list_kits()}
    assert rows[EXA]["classes"] == rows[FREE]["classes"] == "BD/SD/TT/HH/CY"
    assert all(GM_TO_CLASS[s] for s in EXA_FILES)
