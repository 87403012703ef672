"""Near-duplicate detection: syndicated copies of one story, grouped, not merged.

Each article's MinHash signature (word 4-shingles of its normalised text) is
stored in the ``minhashes`` table, the source of truth. The LSH index that
answers "which earlier articles are near this one?" lives in SQLite too:
``minhash_bands`` holds one (band, bucket) row per band of each signature, in
the same transaction as the signature, so a crash never leaves them apart and
memory stays flat however large the archive grows. ``minhash_banding`` records
the banding (b bands of r hash values, from datasketch for the threshold) the
rows were built with; a threshold needing another banding rebuilds them.

datasketch (numpy, scipy) is imported only where a signature is computed or a
banding chosen, so ``kcn`` commands and extraction workers stay light.
"""
from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass
from functools import cache
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING

from archive.texts import normalize_text

try:  # CPython's built-in SHA-1: same digests as OpenSSL's, a third cheaper on short inputs
    from _sha1 import sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1

if TYPE_CHECKING:
    from datasketch import MinHash

logger = logging.getLogger(__name__)

NUM_PERM = 128
SCHEME = "affine32"  # datasketch >= 2.0; stored signatures are only comparable within one scheme
SHINGLE_WORDS = 4
DEFAULT_THRESHOLD = 0.8
LEGACY_CACHE = "minhash.lsh"  # the pickled in-memory LSH earlier versions kept beside the database
_VALUE_BYTES = 8  # one hash value in a stored signature (uint64)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NearDuplicate:
    article_id: int
    similarity: float  # estimated Jaccard similarity of the two texts' shingles


@cache
def _permutations():
    """Drawn once, shared by every MinHash: they depend only on (seed, num_perm, scheme),
    and datasketch would draw them again for each one (~0.7 ms)."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


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
    from datasketch import MinHash

    # hashfunc=int: the values given to update_batch are already sha1_hash32 hashes.
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, hashfunc=int, permutations=_permutations())
    minhash.update_batch(_sha1_hashes(_shingles(text)))
    return minhash


def to_blob(minhash: MinHash) -> bytes:
    import numpy as np

    return minhash.hashvalues.astype(np.uint64).tobytes()


def from_blob(blob: bytes) -> MinHash:
    import numpy as np
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, scheme=SCHEME, hashvalues=np.frombuffer(blob, dtype=np.uint64),
                   permutations=_permutations())


@dataclass(frozen=True)
class Banding:
    """How signatures are cut into LSH bands: ``bands`` slices of ``band_size`` hash values."""
    threshold: float
    bands: int
    band_size: int

    @staticmethod
    @cache
    def for_threshold(threshold: float) -> Banding:
        """datasketch's choice for the threshold (it weighs false positives and negatives)."""
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        return Banding(threshold, lsh.b, lsh.r)

    def same_cut(self, other: Banding) -> bool:
        return (self.bands, self.band_size) == (other.bands, other.band_size)

    def keys(self, blob: bytes) -> list[tuple[int, int]]:
        """(band, bucket) of each band of a stored signature. The bucket is a signed 64-bit
        hash of the band's values: datasketch's LSH keys them by the values themselves,
        and a rare collision only adds a candidate, which Jaccard verification rejects."""
        width = self.band_size * _VALUE_BYTES
        return [(band, _bucket(blob[band * width:(band + 1) * width])) for band in range(self.bands)]

    def rows(self, article_id: int, blob: bytes) -> list[tuple[int, int, int]]:
        """The ``minhash_bands`` rows of an article's signature."""
        return [(band, bucket, article_id) for band, bucket in self.keys(blob)]


def _bucket(values: bytes) -> int:
    """A signed 64-bit hash: what an SQLite integer holds."""
    return int.from_bytes(blake2b(values, digest_size=8).digest(), "little", signed=True)


class NearDuplicateIndex:
    """LSH over all archived signatures, as ``minhash_bands`` rows: a query is b indexed
    lookups, an addition b inserts; nothing per article is held in memory."""

    def __init__(self, db, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.db, self.threshold = db, threshold
        self._banding: Banding | None = None  # what the band rows were built with, once known

    def migrate(self, folder: Path) -> None:
        """An archive from before the band table: build it from the signatures, once, and
        drop the LSH cache file the earlier versions kept in ``folder``."""
        if self.db.execute("select 1 from minhashes limit 1").fetchone():
            self._current()
        (folder / LEGACY_CACHE).unlink(missing_ok=True)

    def find(self, minhash: MinHash) -> NearDuplicate | None:
        """The most similar earlier article at or above the threshold (the earliest
        of equally similar ones), if any."""
        keys = self._matching().keys(to_blob(minhash))
        sql = _CANDIDATES.format(", ".join(["(?, ?)"] * len(keys)))
        candidates = self.db.execute(sql, [value for key in keys for value in key]).fetchall()
        scored = [(minhash.jaccard(from_blob(blob)), article_id) for article_id, blob in candidates]
        similarity, article_id = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if similarity < self.threshold:
            return None
        return NearDuplicate(article_id, round(similarity, 3))

    def add(self, article_id: int, minhash: MinHash) -> None:
        """Store the article's signature and its band rows, replacing earlier ones, in one
        transaction (the article's own when called inside it): they never disagree."""
        banding, blob = self._current(), to_blob(minhash)
        with self.db.atomic():
            old = self.db.execute("select signature from minhashes where article_id = ?", [article_id]).fetchone()
            if old:
                self.db.conn.executemany(
                    "delete from minhash_bands where band = ? and bucket = ? and article_id = ?",
                    banding.rows(article_id, old[0]))
            self.db.execute("insert into minhashes (article_id, signature) values (?, ?) on conflict(article_id)"
                            " do update set signature = excluded.signature", [article_id, blob])
            # "or ignore": rows left by a signature row deleted by hand (``kcn check`` reports them).
            self.db.conn.executemany("insert or ignore into minhash_bands values (?, ?, ?)",
                                     banding.rows(article_id, blob))

    def rebuild(self) -> None:
        """All band rows again from the signatures, with the current banding."""
        self._banding = self._rebuild(self._current(), "kcn check found them out of step")

    def mismatch(self) -> str | None:
        """Why the band rows are not exactly those of the stored signatures (None: they are),
        for ``kcn check``."""
        with self.db.atomic():  # one snapshot: a live crawl may be adding articles meanwhile
            banding, signatures = self._stored(), self._count("minhashes")
            if banding is None:
                return f"never built for the {signatures} stored signatures" if signatures else None
            missing = sum(1 for _ in self._missing_rows(banding))
            stray = self._count("minhash_bands") - (signatures * banding.bands - missing)
        if missing or stray:
            return f"{missing} band rows missing, {stray} stray: near-duplicates may be missed or wrongly proposed"
        return None

    def _missing_rows(self, banding: Banding):
        """Band rows a stored signature should have and does not (one lookup each)."""
        has = "select 1 from minhash_bands where band = ? and bucket = ? and article_id = ?"
        for article_id, blob in self.db.execute("select article_id, signature from minhashes"):
            for row in banding.rows(article_id, blob):
                if not self.db.execute(has, row).fetchone():
                    yield row

    def _current(self) -> Banding:
        """The banding the rows were built with (built now for this threshold if none was)."""
        if self._banding is None:
            self._banding = self._stored() or self._rebuild(Banding.for_threshold(self.threshold),
                                                            "none were built yet")
        return self._banding

    def _matching(self) -> Banding:
        """The current banding, the rows rebuilt first if chosen for another threshold that
        needed another cut (only ``find`` depends on the threshold)."""
        banding = self._current()
        if banding.threshold != self.threshold:
            wanted = Banding.for_threshold(self.threshold)
            reason = f"they were built for threshold {banding.threshold} (b={banding.bands}, r={banding.band_size})"
            self._banding = self._record(wanted) if wanted.same_cut(banding) else self._rebuild(wanted, reason)
        return self._banding

    def _stored(self) -> Banding | None:
        if not self.db["minhash_banding"].exists():  # an archive from before the band table
            return None
        row = self.db.execute("select threshold, bands, band_size from minhash_banding").fetchone()
        return Banding(*row) if row else None

    def _rebuild(self, banding: Banding, reason: str) -> Banding:
        signatures = self._count("minhashes")
        if signatures:
            logger.info("near-duplicate index: building the bands of %d signatures for threshold %s"
                        " (b=%d, r=%d): %s", signatures, banding.threshold, banding.bands,
                        banding.band_size, reason)
        with self.db.atomic():
            self.db.execute("delete from minhash_bands")
            self.db.conn.executemany("insert into minhash_bands values (?, ?, ?)", (
                row for article_id, blob in self.db.execute("select article_id, signature from minhashes")
                for row in banding.rows(article_id, blob)))
            return self._record(banding)

    def _record(self, banding: Banding) -> Banding:
        with self.db.atomic():
            self.db.execute("delete from minhash_banding")
            self.db.execute("insert into minhash_banding (threshold, bands, band_size) values (?, ?, ?)",
                            [banding.threshold, banding.bands, banding.band_size])
        return banding

    def _count(self, table: str) -> int:
        return self.db.execute(f"select count(*) from {table}").fetchone()[0]


# Signatures of the articles sharing a bucket with the query in any band, oldest first
# (the join drives the lookups from the b query keys, through the primary key).
_CANDIDATES = ("select article_id, signature from minhashes where article_id in"
               " (select b.article_id from (values {}) as q"
               "  join minhash_bands b on b.band = q.column1 and b.bucket = q.column2)"
               " order by article_id")
