"""drumscribe: automatic drum transcription (ADT) with deep learning.

The five classes and their General MIDI output notes are fixed across the
project (ADTOF's reduction, see ``docs/labels.md``).
"""

__version__ = "0.1.0"

#: The five drum classes, in the order of every model output and target column.
CLASSES: tuple[str, ...] = ("BD", "SD", "TT", "HH", "CY")
#: General MIDI notes written for each class on output (bass drum, snare, tom, hi-hat, crash).
GM_NOTES_OUT: tuple[int, ...] = (35, 38, 47, 42, 49)
#: Every audio file is resampled to this rate (Hz) and mixed to mono.
SAMPLE_RATE: int = 44100
#: Frames per second of every spectrogram and frame target (hop 441 samples).
FPS: int = 100
#: Frames of one datapoint (4 s at FPS): the training example, the cache chunk, the
#: model window. The config's ``targets.datapoint_frames`` carries the same default.
DATAPOINT_FRAMES: int = 400
#: Target value of the frames either side of an onset frame (``targets.frame_targets``);
#: the config's ``targets.widen`` carries the same default.
WIDEN: float = 0.5
#: Onset tolerance (s) of the matching (mir_eval's default); the config's ``evaluation.window``
#: and ``drumscribe evaluate --window`` carry the same default.
ONSET_WINDOW: float = 0.05
#: The audio files ``drumscribe transcribe`` takes from a folder (and ``evaluate`` transcribes):
#: what libsndfile reads, plus what the ffmpeg fallback of ``audio.load_audio`` decodes.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff")


def resolve_device(name=None, key: str = "device"):
    """The torch device of a config value or CLI option ``name`` (the one resolution of devices).

    ``None`` / ``"auto"`` → CUDA when available, else CPU; ``"cpu"``; ``"cuda"`` / ``"cuda:N"``
    need a GPU (and N below the device count); another name torch knows (``"mps"``) is
    passed through. A bad name is a one-line ``ConfigError`` naming ``key`` (``training.device``,
    ``--device``).
    """
    import torch  # importing drumscribe must not import torch

    from .errors import ConfigError

    dev = "auto" if name is None else str(name).strip().lower()
    if dev == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(dev)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{key} {name}: unknown device (use cpu or cuda)") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{key} {name}: no CUDA GPU is available to torch (torch {torch.__version__}); use cpu")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ConfigError(f"{key} {name}: only {torch.cuda.device_count()} CUDA device(s)")
    return d
