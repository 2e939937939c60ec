"""Kit registry, Hydrogen sampler, FluidSynth rendering: labels sit on the audible onset."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from drumscribe.errors import ConfigError, InputError
from drumscribe.labels import ROLAND_TO_CLASS
from drumscribe.synth import fluid, hydrogen, kits, render
from drumscribe.synth.onset import ONSET_REL_DB, first_crossing

REPO = Path(__file__).resolve().parents[1]
SR = 44100


def _installed_kits() -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kits.resolve_kits("all")


INSTALLED = _installed_kits()
needs_fluid = pytest.mark.skipif(not fluid.available(), reason="libfluidsynth not installed (apt-get install fluidsynth)")


# ---------------------------------------------------------------- registry

def test_registry_ids_and_kinds():
    reg = {k.kit_id: k for k in kits.all_kits()}
    for kid in ("fluidr3_standard", "fluidr3_room", "musescore_standard", "timgm6mb_standard",
                "avl_black_pearl", "avl_red_zeppelin"):
        assert kid in reg
    assert reg["avl_black_pearl"].bank == 0 and reg["avl_black_pearl"].channel != 9
    assert reg["fluidr3_room"].bank == 128 and reg["fluidr3_room"].preset == 8
    hyd = [k for k in reg.values() if k.kind == "hydrogen"]
    assert len(hyd) >= 14 and all(k.kit_id.startswith("hydrogen_") for k in hyd)
    assert len(reg) == len(kits.all_kits())  # ids unique


def test_config_kit_split_uses_real_kits():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["render"]
    reg = {k.kit_id for k in kits.all_kits()}
    pools = cfg["kit_split"]
    for name in ("validation", "test"):
        assert set(pools[name]) <= reg, set(pools[name]) - reg
    assert not set(pools["validation"]) & set(pools["test"])
    # no family (kits sharing samples) across pools
    fam = kits.families()
    train = set(kits.resolve_kits("all")) - set(pools["validation"]) - set(pools["test"])  # what `all` renders
    fams = [{fam[k] for k in p} for p in (train, pools["validation"], pools["test"])]
    assert not (fams[0] & fams[1]) and not (fams[0] & fams[2]) and not (fams[1] & fams[2])


def test_families():
    fam = kits.families()
    assert fam["fluidr3_standard"] == fam["musescore_room"]  # MuseScore General's kits are FluidR3's samples
    assert fam["avl_black_pearl"] == fam["avl_red_zeppelin"]
    assert fam["hydrogen_black_pearl"] == fam["avl_black_pearl"]  # same author, same pedal hi-hat
    assert fam["hydrogen_rumpf"] != fam["hydrogen_colombo"]
    assert "timgm6mb_jazz" not in fam  # sample-identical to timgm6mb_standard


def test_unknown_kit_is_config_error():
    with pytest.raises(ConfigError, match="no_such_kit"):
        kits.resolve_kits(["no_such_kit"])


def test_list_kits_skips_missing_with_warning(tmp_path, monkeypatch):
    # a registry pointing at an empty Hydrogen folder: its kits are missing
    with pytest.warns(UserWarning, match="not installed"):
        rows = kits.list_kits(hydrogen_dir=tmp_path / "none")
    assert not any(r["kind"] == "hydrogen" for r in rows)


def test_every_gmd_note_has_a_same_class_preference():
    for note, cls in ROLAND_TO_CLASS.items():
        assert kits.NOTE_PREFERENCES[note], note
    nm = render.kit_note_map([36, 38, 42])  # a kit without toms or cymbals
    assert nm[22] == 42 and nm[26] == 42 and nm[40] == 38
    assert not any(n in nm for n, c in ROLAND_TO_CLASS.items() if c in ("TT", "CY"))


# ---------------------------------------------------------------- Hydrogen name table

def test_hydrogen_name_rules():
    names = ["Kick", "Snare Rimshot", "Snare", "Hat Closed", "Hat Open", "Pedal HH", "Tom Hi", "Tom Mid",
             "Floor Tom", "Crash", "Ride", "Ride Bell", "Cowbell", "Hand Clap", "Snare Roll", "China (Paiste 18\")"]
    slots = hydrogen.classify_names(names)
    assert slots == {36: 0, 40: 1, 38: 2, 42: 3, 46: 4, 44: 5, 48: 6, 45: 7, 43: 8, 49: 9, 51: 10, 53: 11, 52: 15}


def _write_kit(folder: Path, lead_ms: float, sr_file: int = 48000) -> None:
    """A tiny Hydrogen kit: stereo 48 kHz samples with ``lead_ms`` of leading silence;
    the kick has two velocity layers (soft/hard) of different amplitude."""
    folder.mkdir(parents=True)
    n_lead = int(lead_ms / 1000 * sr_file)
    t = np.arange(int(0.2 * sr_file)) / sr_file

    def hit(freq, amp):
        body = amp * np.exp(-t * 30) * np.sin(2 * np.pi * freq * t)
        y = np.concatenate([np.zeros(n_lead), body])
        return np.stack([y, 0.5 * y], axis=1)

    sf.write(folder / "kick_soft.wav", hit(60, 0.2), sr_file)
    sf.write(folder / "kick_hard.wav", hit(60, 0.9), sr_file)
    sf.write(folder / "snare.flac", hit(200, 0.5), sr_file)
    sf.write(folder / "hat.wav", hit(6000, 0.5), sr_file)
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name><license>CC0</license>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name><volume>1</volume>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>1</id><name>Snare</name><volume>0.8</volume><filename>snare.flac</filename></instrument>
  <instrument><id>2</id><name>Closed HH</name><volume>1</volume><filename>hat.wav</filename></instrument>
  <instrument><id>3</id><name>Cowbell</name><volume>1</volume><filename>hat.wav</filename></instrument>
 </instrumentList>
</drumkit_info>
"""
    (folder / "drumkit.xml").write_text(xml)


def test_hydrogen_sampler_known_onsets(tmp_path):
    _write_kit(tmp_path / "kit", lead_ms=30.0)
    dk = hydrogen.load_drumkit(tmp_path / "kit")
    assert dk.slot_names() == {36: "Kick", 38: "Snare", 42: "Closed HH"}
    times = np.array([0.1, 0.5, 0.9, 1.3])
    y, labels = dk.render(times, [36, 36, 38, 42], [30, 120, 100, 100], 1.6)
    assert y.shape == (int(1.6 * SR),)
    # leading 30 ms trimmed: each label within 1.5 ms of the note time, and the audio is silent before it
    assert np.all(np.abs(labels - times) < 0.0015), labels - times
    for lab in labels:
        i = int(round(lab * SR))
        seg = np.abs(y[i - int(0.02 * SR): i + int(0.1 * SR)])
        assert np.abs(y[i - int(0.02 * SR): i - int(0.002 * SR)]).max() < 0.01 * seg.max()
    # velocity layers: the soft hit uses the soft sample (0.2) at 30/127, the hard one (0.9) at 120/127
    pk_soft = np.abs(y[int(0.1 * SR): int(0.3 * SR)]).max()
    pk_hard = np.abs(y[int(0.5 * SR): int(0.7 * SR)]).max()
    assert pk_hard / pk_soft == pytest.approx((0.9 * 120) / (0.2 * 30), rel=0.02)
    # amplitude = velocity/127 x layer gain x volume; mono = mean(L, 0.5 L); sine x exp decay peaks at 0.8825
    assert pk_hard == pytest.approx(0.9 * 0.75 * 120 / 127 * np.exp(-30 / 240), rel=0.02)


def test_hydrogen_open_hat_is_choked(tmp_path):
    folder = tmp_path / "kit"
    folder.mkdir()
    t = np.arange(SR) / SR
    sf.write(folder / "open.wav", 0.5 * np.sin(2 * np.pi * 5000 * t), SR)  # rings 1 s
    sf.write(folder / "closed.wav", 0.5 * np.sin(2 * np.pi * 5000 * t[:2000]), SR)
    (folder / "drumkit.xml").write_text(
        "<drumkit_info><name>h</name><instrumentList>"
        "<instrument><name>Open HH</name><filename>open.wav</filename></instrument>"
        "<instrument><name>Closed HH</name><filename>closed.wav</filename></instrument>"
        "</instrumentList></drumkit_info>")
    dk = hydrogen.load_drumkit(folder)
    y, _ = dk.render([0.1, 0.4], [46, 42], [127, 127], 1.0)
    assert np.abs(y[int(0.3 * SR): int(0.39 * SR)]).max() > 0.3  # open hat rings
    assert np.abs(y[int(0.5 * SR):]).max() < 1e-6  # ... until the closed hat chokes it


def test_broken_drumkit_xml(tmp_path):
    (tmp_path / "drumkit.xml").write_text("<drumkit_info><name>x</name")
    with pytest.raises(InputError, match="drumkit.xml: not valid XML"):
        hydrogen.load_drumkit(tmp_path)


# ---------------------------------------------------------------- FluidSynth

@needs_fluid
def test_fluid_block_snapping_and_silence_before():
    font = kits.get_kit("timgm6mb_standard")
    if not font.installed:
        pytest.skip("timgm6mb-soundfont not installed")
    fs = fluid.FluidSynth(font.source)
    y, on = fluid.render_notes(font.source, 128, 0, [(0.1234, 38, 100), (0.5, 36, 100)], 1.0, synth=fs)
    assert np.all(np.round(on * SR) % fluid.BLOCK == 0)
    assert np.all(on >= [0.1234, 0.5]) and np.all(on - [0.1234, 0.5] < fluid.BLOCK / SR)
    assert np.abs(y[: int(on[0] * SR)]).max() == 0.0
    assert np.abs(y[int(on[0] * SR): int((on[0] + 0.05) * SR)]).max() > 0.01
    fs.close()


@needs_fluid
def test_avl_kits_play_on_bank0_not_on_channel10():
    kit = kits.get_kit("avl_black_pearl")
    if not kit.installed:
        pytest.skip("avldrums.lv2-soundfont not installed")
    fs = fluid.FluidSynth(kit.source)
    y_ok, _ = fluid.render_notes(kit.source, 0, 0, [(0.05, 38, 110)], 0.5, chan=kit.channel, synth=fs)
    assert np.abs(y_ok).max() > 0.05
    # channel 10 asks for bank 128, which the AVL fonts lack
    with pytest.raises(InputError, match="no preset bank 128"):
        fluid.render_notes(kit.source, 128, 0, [(0.05, 38, 110)], 0.5, chan=9, synth=fs)
    fs.close()


# ---------------------------------------------------------------- every kit, every class: label on the onset

#: one note per articulation family of each class
SINGLE_HIT_NOTES = (36, 38, 37, 40, 42, 46, 44, 48, 45, 43, 49, 51, 53)


def _detected_onset(y: np.ndarray, label: float) -> float:
    """Independent of the renderer's bookkeeping: first sample of the rendered audio at
    −30 dB of the hit's peak."""
    i = first_crossing(y, ONSET_REL_DB)
    assert i is not None, "silent render"
    return i / SR


@pytest.mark.parametrize("kit_id", INSTALLED)
def test_single_hits_labelled_on_audible_onset(kit_id):
    if kits.get_kit(kit_id).kind.startswith("soundfont") and not fluid.available():
        pytest.skip("libfluidsynth not installed")
    r = render.open_kit(kit_id)
    nmap = render.kit_note_map(r.slots)
    assert {"BD", "SD", "HH"} <= {ROLAND_TO_CLASS[n] for n in nmap}
    checked = 0
    for note in SINGLE_HIT_NOTES:
        if note not in nmap:
            continue
        for vel, t0 in ((35, 0.0537), (110, 0.0811)):
            hits = render.Hits(np.array([t0]), np.array([note]), np.array([vel]), t0 + 0.1)
            y, onsets, dur = render.render_hits(r, hits, 0.35)
            labels = [t for c in onsets.values() for t in c]
            assert len(labels) == 1 and len(onsets[ROLAND_TO_CLASS[note]]) == 1
            det = _detected_onset(y, labels[0])
            assert abs(det - labels[0]) <= 0.005, (kit_id, note, vel, det, labels[0])
            # the label is never before the note-on (to the sample), and not later than 50 ms after it
            assert t0 - 1.0 / SR <= labels[0] < t0 + 0.05
            checked += 1
    assert checked >= 6


def test_hydrogen_path_needs_no_librosa_nor_fluidsynth():
    """A GPU node without FluidSynth renders Hydrogen kits: numpy + soundfile + soxr only."""
    import subprocess
    import sys

    code = ("import sys; import drumscribe.synth.hydrogen, drumscribe.synth.render, drumscribe.synth.gmd, "
            "drumscribe.datasets.gmd_synth; "
            "bad = [m for m in ('librosa', 'torch', 'h5py') if m in sys.modules]; "
            "from drumscribe.synth import fluid; "
            "assert not bad, bad; assert fluid._lib.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], check=True)
