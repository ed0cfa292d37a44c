"""Decode a plain-text file: UTF-8 when it is UTF-8, else the encoding charset-normalizer finds.

Quote offsets refer to the decoded text, so decoding must give the same text every time for the
same bytes: the encoding chosen is recorded with the document (`encoding` in `sources --json`) and
`quotebot text` decodes with that recorded name instead of detecting again (a newer detector could
choose differently). Bytes that are mostly UTF-8 with a few broken bytes are refused rather than
read as Latin-1 mojibake, and bytes that fit no encoding (binary files) are refused.
"""

from __future__ import annotations

import codecs

from bot.ingest.extraction.base import ExtractionFailed

UTF8 = "utf-8"
# The legacy encoding of most unlabelled Western text (HTML's default for it too). A short sample
# cannot tell Latin-1 French from cp1250 ("à" read as "ŕ") or curly quotes from DOS cp437 ("“"
# read as "ô"), so cp1252 is chosen when the detector finds it about as good as its best: within
# CHAOS_TOLERANCE of its mess ratio and COHERENCE_TOLERANCE of its language fit, chosen with
# bench/charset_check.py: 33 files (28 passages, 20 languages, 17 encodings) decoded exactly: the
# detector alone 23, with this preference 31 (in-sample), 29 with each passage held out in turn.
_WESTERN = "cp1252"
CHAOS_TOLERANCE = 0.1
COHERENCE_TOLERANCE = 0.02
_DEFAULT = (CHAOS_TOLERANCE, COHERENCE_TOLERANCE)


def decode(
    data: bytes,
    encoding: str | None = None,
    *,
    tolerances: tuple[float, float] | None = _DEFAULT,
) -> tuple[str, str]:
    """(text, encoding used). With `encoding` (as recorded earlier) that one is used, strictly.

    `tolerances` (chaos, coherence) of the preference for cp1252; None: the detector alone.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ExtractionFailed(f"cannot be decoded as {encoding} any more ({exc})") from None
    try:
        return data.decode(UTF8), UTF8
    except UnicodeDecodeError as exc:
        position = exc.start
    if _damaged_utf8(data):
        raise ExtractionFailed(f"not valid UTF-8 (byte {position}), though most of it is")
    detected = detect(data, tolerances)
    if detected is None:
        raise ExtractionFailed(
            f"not valid UTF-8 (byte {position}) and not text in any encoding (a binary file?)"
        )
    try:
        return data.decode(detected), detected
    except UnicodeDecodeError as exc:  # the detector reads samples; the whole file disagrees
        raise ExtractionFailed(
            f"not valid UTF-8 (byte {position}) nor {detected} (byte {exc.start})"
        ) from None


def detect(data: bytes, tolerances: tuple[float, float] | None = _DEFAULT) -> str | None:
    """The encoding charset-normalizer finds best (Python codec name), or None for non-text.

    UTF-16/32 are accepted only with a byte-order mark: without one, any even number of Latin-1
    bytes "decodes" to CJK ideographs.
    """
    from charset_normalizer import from_bytes

    matches = [
        match
        for match in from_bytes(data)
        if match.bom or not match.encoding.startswith(("utf_16", "utf_32"))
    ]
    if not matches:
        return None
    best = matches[0]
    if tolerances is not None:
        chaos, coherence = tolerances
        close = [
            match
            for match in matches
            if match.chaos <= best.chaos + chaos and match.coherence >= best.coherence - coherence
        ]
        if any(_WESTERN in match.could_be_from_charset for match in close):
            return _WESTERN
    return codecs.lookup(best.encoding).name


def _damaged_utf8(data: bytes) -> bool:
    """More well-formed multi-byte UTF-8 characters than broken bytes: a UTF-8 file with a few
    damaged bytes, which a single-byte encoding would turn into mojibake (é read as Ã©)."""
    text = data.decode(UTF8, errors="replace")
    broken = text.count("\ufffd") - data.decode(UTF8, errors="ignore").count("\ufffd")
    multibyte = sum(1 for char in text if ord(char) > 0x7F and char != "\ufffd")
    return multibyte > broken
