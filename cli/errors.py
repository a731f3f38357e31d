"""Library errors as the command line words them: by their stable ``code``, with its flags.

The library says what to provide ("a weights file", "device cuda"); here the same advice
names the flag that provides it. Codes without an entry are printed as the library wrote them.
"""

from __future__ import annotations

__all__ = ["cli_message"]

from lookalike.models.errors import LookalikeError

#: code -> the message with flags, formatted with the error's ``details``.
_WITH_FLAGS = {
    "index-not-found": "no index at {directory} (create one with `lookalike index PATH --index {directory}`)",
    "embedder-mismatch": "index at {directory} was built with embedder {stored!r}, not {requested!r}: "
                         "re-index into a new folder (--index DIR) or delete this one",
    "weights-mismatch": "index at {directory} was built with {name} version {want}; the weights found ({found}) "
                        "are version {version}: pass --weights with the original file or re-index into a new folder",
    "weights-not-found": "--weights {path}: no such file",
    "weights-not-cached": "{name} weights are not cached and cannot be downloaded ({why}): put {url} at {cached}, "
                          "or pass --weights FILE (a {name} state dict)",
    "lookalike-s-weights-missing": "lookalike-s weights not found at {path}: pass --weights FILE, set ${env}, "
                                   "or train them with `lookalike train FOLDER --out {path}`",
    "device-unavailable": "--device {device}: no {kind} device is available here",
    "no-keypoints": "index at {directory} keeps no keypoints, which --regions needs: run `lookalike index PATH... "
                    "--regions --index {directory}` once (pictures are described again, nothing is lost)",
    "bad-rule": "--keep {rule}: use largest-resolution, largest-file or oldest",
    "bad-min-score": "--min-score must be between 0 and 1",
}


def cli_message(exc: LookalikeError) -> str:
    """The one line a command prints for ``exc`` (after ``error: ``)."""
    template = _WITH_FLAGS.get(exc.code)
    if template is not None:
        try:
            return template.format(**exc.details)
        except (KeyError, IndexError):  # raised without the details the wording needs
            pass
    return str(exc)
