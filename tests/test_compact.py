"""Compact kits (synth.compact): small sample folders that render like the kits they copy."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from drumscribe import cli
from drumscribe.errors import ConfigError
from drumscribe.synth import compact, fluid, hydrogen, kits, render

SR = 44100


def _write_kit(folder):
    """A Hydrogen kit: kick with 3 velocity layers (amplitudes 0.2/0.5/0.9, 3 s of silence after
    the hit), snare with one layer, a cowbell (not a drum-kit class)."""
    folder.mkdir(parents=True)
    t = np.arange(int(0.2 * SR)) / SR

    def hit(freq, amp, tail=0.0):
        body = amp * np.exp(-t * 30) * np.sin(2 * np.pi * freq * t)
        return np.concatenate([np.zeros(int(0.01 * SR)), body, np.zeros(int(tail * SR))])

    for name, amp in (("k1", 0.2), ("k2", 0.5), ("k3", 0.9)):
        sf.write(folder / f"{name}.wav", hit(60, amp, tail=3.0), SR)
    sf.write(folder / "snare.wav", hit(200, 0.5), SR)
    (folder / "drumkit.xml").write_text(
        "<drumkit_info><name>T</name><license>CC0</license><instrumentList>"
        "<instrument><name>Kick</name><volume>0.9</volume>"
        "<layer><filename>k1.wav</filename><min>0</min><max>0.3</max><gain>1</gain></layer>"
        "<layer><filename>k2.wav</filename><min>0.3</min><max>0.6</max><gain>1</gain></layer>"
        "<layer><filename>k3.wav</filename><min>0.6</min><max>1</max><gain>0.8</gain></layer></instrument>"
        "<instrument><name>Snare</name><volume>0.7</volume><filename>snare.wav</filename></instrument>"
        "<instrument><name>Cowbell</name><filename>snare.wav</filename></instrument>"
        "</instrumentList></drumkit_info>")
    return kits.Kit("hydrogen_test", "hydrogen", folder, "Hydrogen T", "CC0", bank=-1, preset=-1, channel=-1,
                    family="hydrogen_test")


def test_layer_velocities_and_validation():
    assert compact.layer_velocities(1) == [127]
    assert compact.layer_velocities(4) == [32, 64, 95, 127]
    for bad in (0, 17, 2.5, True):
        with pytest.raises(ConfigError, match="layers"):
            compact.layer_velocities(bad)


def test_trim_tail_cuts_silence_and_caps_length():
    t = np.arange(3 * SR) / SR
    y = np.where(t < 0.5, np.sin(2 * np.pi * 100 * t) * np.exp(-t * 5), 0.0).astype(np.float32)
    out = compact.trim_tail(y, max_seconds=2.0)
    # exp(-5 t) falls below -60 dB (1e-3) at t = 1.38 s, but the signal stops at 0.5 s
    assert 0.45 * SR < len(out) <= 0.5 * SR + 1
    assert out[-1] == 0.0 and np.abs(out[: int(0.3 * SR)] - y[: int(0.3 * SR)]).max() < 1e-6
    assert len(compact.trim_tail(np.ones(3 * SR, np.float32), max_seconds=1.0)) == SR


def test_hydrogen_kit_compacts_to_the_same_slots_labels_and_levels(tmp_path):
    kit = _write_kit(tmp_path / "orig")
    folder = compact.compact_kit(kit, tmp_path / "compact", layers=2, max_seconds=1.0)
    assert folder == tmp_path / "compact" / "hydrogen_test"
    root = ET.parse(folder / "drumkit.xml").getroot()
    assert root.findtext(compact.MARKER) == "hydrogen_test"
    ck = hydrogen.load_drumkit(folder)
    orig = hydrogen.load_drumkit(kit.source)
    assert ck.slots == orig.slots == (36, 38)
    kick = ck.instruments[ck.slot_map[36]]
    # 3 layers -> 2 (the softest and the loudest), widened to cover 0..1, gains and volume kept
    assert [(ly.vmin, ly.vmax) for ly in kick.layers] == [(0.0, 0.3), (0.3, 1.0)]
    assert [ly.gain for ly in kick.layers] == [1.0, 0.8] and kick.volume == pytest.approx(0.9)
    for ly in kick.layers:  # the 3 s of silence after each hit is gone
        assert sf.info(str(ly.path)).duration < 0.3
    times, slots, vels = [0.1, 0.6, 1.1], [36, 38, 36], [20, 100, 127]
    y0, lab0 = orig.render(times, slots, vels, 1.6)
    y1, lab1 = ck.render(times, slots, vels, 1.6)
    assert np.abs(lab0 - lab1).max() < 0.0005, lab0 - lab1
    for t in (0.1, 0.6, 1.1):  # level of each hit within 0.5 dB (Vorbis coding)
        seg = slice(int(t * SR), int((t + 0.2) * SR))
        assert 20 * np.log10(np.abs(y1[seg]).max() / np.abs(y0[seg]).max()) == pytest.approx(0.0, abs=0.5)


def test_registry_serves_compact_copy_under_the_same_id(tmp_path, monkeypatch):
    kit = _write_kit(tmp_path / "orig")
    compact.compact_kit(kit, tmp_path / "compact", layers=2)
    (tmp_path / "compact" / "fluidr3_standard").mkdir(parents=True)
    (tmp_path / "compact" / "fluidr3_standard" / "drumkit.xml").write_text(
        (tmp_path / "compact" / "hydrogen_test" / "drumkit.xml").read_text())
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path / "compact"))
    k = kits.get_kit("fluidr3_standard")
    assert k.kind == "hydrogen" and k.source == tmp_path / "compact" / "fluidr3_standard"
    assert k.family == "fluidr3" and "compact" in k.name
    monkeypatch.delenv(kits.COMPACT_ENV)
    assert kits.get_kit("fluidr3_standard").kind == "soundfont"


def test_bad_parameters(tmp_path):
    kit = _write_kit(tmp_path / "orig")
    with pytest.raises(ConfigError, match="max_seconds"):
        compact.compact_kit(kit, tmp_path / "c", max_seconds=0)
    with pytest.raises(ConfigError, match="unknown kit"):
        compact.compact_kit("no_such_kit", tmp_path / "c")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


@pytest.mark.skipif(not (fluid.available() and kits.get_kit("timgm6mb_standard").installed),
                    reason="needs libfluidsynth and timgm6mb-soundfont")
def test_soundfont_kit_compacts_with_labels_within_5_ms(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(kits.COMPACT_ENV, raising=False)
    assert cli.main(["compact-kits", str(tmp_path), "--kits", "timgm6mb_standard", "--layers", "3"]) == 0
    assert "timgm6mb_standard:" in capsys.readouterr().out
    orig = render.open_kit("timgm6mb_standard", cached=False)
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path))
    ck = render.open_kit("timgm6mb_standard", cached=False)
    assert isinstance(ck, render.HydrogenKitRenderer) and set(ck.slots) == set(orig.slots)
    rng = np.random.default_rng(0)
    hits = render.Hits(np.sort(rng.uniform(0.1, 4.0, 40)), rng.choice([36, 38, 42, 46, 45, 49, 51], 40),
                       rng.integers(20, 128, 40), 4.1)
    y0, on0, _ = render.render_hits(orig, hits, 5.0)
    y1, on1, _ = render.render_hits(ck, hits, 5.0)
    for c in on0:
        assert len(on0[c]) == len(on1[c]), c
        if len(on0[c]):
            assert np.abs(on0[c] - on1[c]).max() < 0.005, (c, on0[c] - on1[c])
    orig.close()


def test_cli_compact_kits_unknown_kit_is_one_line_error(tmp_path, capsys):
    assert cli.main(["compact-kits", str(tmp_path / "out"), "--kits", "no_such_kit"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("drumscribe: error: render.kits: unknown kit 'no_such_kit'") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_registry_sees_kits_compacted_after_its_first_use(tmp_path, monkeypatch):
    """A kit compacted after the registry was first asked (same folder) is served by its copy."""
    monkeypatch.setenv(kits.COMPACT_ENV, str(tmp_path / "compact"))
    assert kits.get_kit("fluidr3_room").kind == "soundfont"  # nothing compacted yet
    kit = _write_kit(tmp_path / "orig")
    compact.compact_kit(kit, tmp_path / "compact")
    (tmp_path / "compact" / "hydrogen_test").rename(tmp_path / "compact" / "fluidr3_room")
    assert kits.get_kit("fluidr3_room").kind == "hydrogen"
