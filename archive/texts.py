"""Text identity and the legacy-format text files (``NNN_<16 hex>.txt``)."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

FILENAME_PATTERN = re.compile(r"^\d{3,}_[0-9a-f]{16}\.txt$")


def normalize_text(text: str) -> str:
    """NFC with all whitespace runs collapsed: the form that is hashed.

    ``str.split()`` splits on exactly the characters regex ``\\s`` matches, and is
    several times faster than a regex substitution on non-ASCII text.
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_hash(text: str) -> str:
    """sha256 of the normalised text; equal stories get equal hashes."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def text_filename(sequence: int, digest: str) -> str:
    """Legacy naming: zero-padded sequence (3 digits at least) and 16 hex of the hash."""
    return f"{sequence:03d}_{digest[:16]}.txt"


def render_text_file(title: str | None, text: str) -> str:
    """Title line, blank line, then the paragraphs separated by blank lines."""
    return f"{title or ''}\n\n{text}\n"


def write_atomically(path: Path, content: str, *, sync: bool = True) -> None:
    """Write to a temp file in the same folder, then rename it over ``path``.

    A crash leaves either the old file, the new file or a stray ``.tmp``, never
    a half-written text file. ``sync`` also fsyncs the file and the folder, so
    the new file survives a power cut too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file name durable (a power cut could otherwise lose it
    while the database row naming it survives)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
