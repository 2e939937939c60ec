"""Errors that drumscribe raises.

Library code raises these; only the edges (CLI, Snakemake scripts) catch them and
print ``str(error)`` as one line. Each message names the file (or config key) and
the cause, e.g. ``"song.wav: not an audio file (format not recognised)"``.
"""


class DrumscribeError(Exception):
    """Base class: a problem with the user's input, config or data, told in one line."""


class InputError(DrumscribeError):
    """An input file is missing, unreadable, corrupt or of an unsupported kind."""


class ConfigError(DrumscribeError):
    """The configuration (config.yaml, a search space, a CLI option) is invalid."""


class OutputError(DrumscribeError):
    """An output cannot be written (folder not writable, disk full, name clash)."""


class ChecksumError(DrumscribeError):
    """A downloaded or placed file does not match its expected checksum."""


class ModelError(DrumscribeError):
    """A checkpoint does not fit the architecture, feature config or version asked for."""


class TrainingError(DrumscribeError):
    """Training cannot go on (e.g. the loss became NaN)."""
