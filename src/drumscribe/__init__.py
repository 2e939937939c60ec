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
