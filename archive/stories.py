"""Near-duplicate detection: syndicated copies of one story, grouped, not merged.

Each article's MinHash signature (word 4-shingles of its normalised text) is
stored in the ``minhashes`` table, the source of truth. The LSH index that
answers "which earlier articles are near this one?" is cached beside the
database (``minhash.lsh``) with the highest article id it covers; opening it
loads the cache and adds only the signatures written since, so a daily crawl
never rebuilds the index from scratch, and a stale or missing cache heals.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from archive.texts import normalize_text

try:  # CPython's built-in SHA-1: same digests as OpenSSL's, a third cheaper on short inputs
    from _sha1 import sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1

logger = logging.getLogger(__name__)

NUM_PERM = 128
SCHEME = "affine32"  # datasketch >= 2.0; stored signatures are only comparable within one scheme
SHINGLE_WORDS = 4
DEFAULT_THRESHOLD = 0.8
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NearDuplicate:
    article_id: int
    similarity: float  # estimated Jaccard similarity of the two texts' shingles


# The permutations depend only on (seed, num_perm, scheme): drawn once, shared by every
# MinHash (datasketch would draw them again for each one, ~0.7 ms).
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


def _shingles(text: str) -> set[str]:
    """Distinct word 4-shingles of the normalised, lowercased text (one shingle of all
    its words when it has fewer)."""
    words = _WORD.findall(normalize_text(text).lower())
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words)}
    return set(map(" ".join, zip(*(words[k:] for k in range(SHINGLE_WORDS)))))


def _sha1_hashes(values: set[str]) -> tuple[int, ...]:
    """datasketch's ``sha1_hash32`` of each UTF-8 value (the first 4 digest bytes,
    little-endian), with one ``struct`` call for all of them instead of one per value."""
    digests = b"".join([sha1(value.encode()).digest()[:4] for value in values])
    return struct.unpack(f"<{len(values)}I", digests)


def signature(text: str) -> MinHash:
    # hashfunc=int: the values given to update_batch are already sha1_hash32 hashes.
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, hashfunc=int, permutations=_PERMUTATIONS)
    minhash.update_batch(_sha1_hashes(_shingles(text)))
    return minhash


def to_blob(minhash: MinHash) -> bytes:
    return minhash.hashvalues.astype(np.uint64).tobytes()


def from_blob(blob: bytes) -> MinHash:
    return MinHash(num_perm=NUM_PERM, scheme=SCHEME, hashvalues=np.frombuffer(blob, dtype=np.uint64),
                   permutations=_PERMUTATIONS)


class NearDuplicateIndex:
    """LSH over all archived signatures, loaded lazily from cache + table."""

    def __init__(self, db, cache: Path, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.db, self.cache, self.threshold = db, cache, threshold
        self._lsh: MinHashLSH | None = None
        self._covered = 0  # highest article id in the index
        self._dirty = False

    def find(self, minhash: MinHash, exclude: int | None = None) -> NearDuplicate | None:
        """The most similar earlier article at or above the threshold, if any."""
        lsh = self._index()
        best = None
        for key in lsh.query(minhash):
            blob = self._blob(key)
            if key == exclude or blob is None:
                continue
            similarity = minhash.jaccard(from_blob(blob))
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = NearDuplicate(key, round(similarity, 3))
        return best

    def add(self, article_id: int, minhash: MinHash) -> None:
        """Index an article whose signature row was just committed."""
        lsh = self._index()
        if article_id in lsh.keys:
            lsh.remove(article_id)
        lsh.insert(article_id, minhash)
        self._covered = max(self._covered, article_id)
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically (temp + rename); the table stays the truth."""
        if self._lsh is None or not self._dirty:
            return
        fd, tmp = tempfile.mkstemp(dir=self.cache.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump({"threshold": self.threshold, "covered": self._covered, "lsh": self._lsh}, handle)
        os.replace(tmp, self.cache)
        self._dirty = False

    def _blob(self, article_id: int) -> bytes | None:
        row = self.db.execute("select signature from minhashes where article_id = ?", [article_id]).fetchone()
        return row[0] if row else None

    def _index(self) -> MinHashLSH:
        if self._lsh is None:
            self._lsh, self._covered = self._load_cache()
            newest = self.db.execute("select coalesce(max(article_id), 0) from minhashes").fetchone()[0]
            if self._covered > newest:  # a cache left by another (deleted) archive
                self._lsh, self._covered = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM), 0
            newer = self.db.execute("select article_id, signature from minhashes where article_id > ?",
                                    [self._covered]).fetchall()
            for article_id, blob in newer:
                self.add(article_id, from_blob(blob))
        return self._lsh

    def _load_cache(self) -> tuple[MinHashLSH, int]:
        try:
            with self.cache.open("rb") as handle:
                data = pickle.load(handle)
            if data["threshold"] == self.threshold:
                return data["lsh"], data["covered"]
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cache is rebuilt from the table
            logger.warning("near-duplicate index cache unreadable (%s); rebuilding", exc)
        return MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM), 0
