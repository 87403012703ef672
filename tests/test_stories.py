"""Near-duplicate signatures and their index: stored signatures stay comparable with new
ones; the band rows in SQLite find the same copies, whatever the archive's age or size."""
from __future__ import annotations

import logging
import random
import re
import sqlite3
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from datasketch import MinHash

from archive.check import check_archive
from archive.db import Archive
from archive.stories import (
    NUM_PERM,
    SCHEME,
    SHINGLE_WORDS,
    Banding,
    NearDuplicate,
    from_blob,
    signature,
    to_blob,
)
from archive.texts import normalize_text
from tests.site import FIXTURES

SEED = sorted((FIXTURES / "seeds").glob("*.txt"))[0].read_text(encoding="utf-8")


def reference_signature(text: str) -> MinHash:
    """The plain datasketch way (its own sha1_hash32 per shingle), as signatures were first stored."""
    words = re.findall(r"\w+", normalize_text(text).lower())
    shingles = {" ".join(words[i:i + SHINGLE_WORDS]).encode()
                for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(list(shingles))
    return minhash


@pytest.mark.parametrize("text", ["", "một", "ba từ thôi", "Khu công nghiệp Thăng Long mở rộng",
                                  "KCN  Thăng\u00a0Long\n\nKCN Thăng Long", SEED])
def test_signature_equals_datasketch_sha1_signature(text):
    assert np.array_equal(signature(text).hashvalues, reference_signature(text).hashvalues)


def test_stored_signature_compares_like_a_fresh_one():
    original, copy = signature(SEED), signature(SEED + "\n\nNguồn: TTXVN.")
    stored = from_blob(to_blob(original))
    assert stored.jaccard(copy) == original.jaccard(copy) >= 0.8


# --- the index: band rows in SQLite ----------------------------------------------------------

SEEDS = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "seeds").glob("*.txt"))[:2]]
COPY = SEED + "\n\nNguồn: TTXVN."
# About 0.74 similar to SEED: below the default threshold, and in no band bucket of SEED's
# under its banding, but in some under the banding of threshold 0.6.
REWRITE = "\n\n".join(SEEDS[0].split("\n\n")[:11] + SEEDS[1].split("\n\n")[:2])


def _article(n: int, text: str) -> dict:
    return {"url": f"https://vnexpress.net/kcn-{n}-50470{n:02d}.html", "outlet": "vnexpress",
            "title": f"Bài {n}", "text": text}


def _similarity(a: str, b: str) -> float:
    return round(signature(a).jaccard(signature(b)), 3)


def _drop_bands(path) -> None:
    """What an archive from before the band table looks like: signatures, an LSH cache file."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("drop table minhash_bands")
        conn.execute("drop table minhash_banding")
    conn.close()
    (path.parent / "minhash.lsh").write_bytes(b"\x80\x04 pickled MinHashLSH")


def test_importing_the_cli_leaves_datasketch_unloaded():
    """`kcn --help` and the extraction workers (which import the CLI as __main__) stay light."""
    code = "import sys, scheduler.cli; print('datasketch' in sys.modules, 'scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_near_copy_is_found_with_its_similarity(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        original = archive.add_article(_article(1, SEED))
        copy = archive.add_article(_article(2, COPY))
        unrelated = archive.add_article(_article(3, SEEDS[1]))
    assert original.near_duplicate is None and unrelated.near_duplicate is None
    assert copy.near_duplicate == NearDuplicate(original.id, _similarity(SEED, COPY))


def test_archive_from_before_the_bands_migrates_on_open(tmp_path, caplog):
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        original = archive.add_article(_article(1, SEED))
    _drop_bands(path)
    with caplog.at_level(logging.INFO, logger="archive.stories"), Archive(path) as archive:
        assert "building the bands of 1 signatures" in caplog.text
        assert not (tmp_path / "minhash.lsh").exists()
        copy = archive.add_article(_article(2, COPY))
    assert copy.near_duplicate == NearDuplicate(original.id, _similarity(SEED, COPY))
    assert check_archive(path).clean


def test_changing_the_threshold_rebuilds_the_bands(tmp_path, caplog):
    keys = [set(Banding.for_threshold(0.8).keys(to_blob(signature(text)))) for text in (SEED, REWRITE)]
    assert not keys[0] & keys[1]  # the default banding would never propose the rewrite
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        original = archive.add_article(_article(1, SEED))
    with caplog.at_level(logging.INFO, logger="archive.stories"), Archive(path, near_threshold=0.6) as archive:
        rewrite = archive.add_article(_article(2, REWRITE))
    assert "threshold 0.6" in caplog.text and "built for threshold 0.8" in caplog.text
    assert rewrite.near_duplicate == NearDuplicate(original.id, _similarity(SEED, REWRITE))
    assert check_archive(path).clean


def test_updated_text_replaces_its_bands(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        first = archive.add_article(_article(1, SEEDS[1]))
        archive.update_article(first.id, _article(1, SEED))
        assert archive.near.find(signature(COPY)).article_id == first.id
        assert archive.near.find(signature(SEEDS[1])) is None
    assert check_archive(tmp_path / "archive.db").clean


def _archive_of_signatures(path, count: int) -> None:
    """An archive of ``count`` random signatures, its band rows built on open."""
    rng = random.Random(count)
    Archive(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("insert into minhashes values (?, ?)", (
            (n, struct.pack(f"<{NUM_PERM}Q", *(rng.getrandbits(32) for _ in range(NUM_PERM))))
            for n in range(1, count + 1)))
        conn.execute("delete from minhash_banding")
    conn.close()
    Archive(path).close()


def _peak_python_memory_of_a_check(path) -> int:
    tracemalloc.start()
    with Archive(path) as archive:
        archive.near.find(signature(SEED))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_index_memory_does_not_grow_with_the_archive(tmp_path):
    """The in-memory LSH held ~4 KB per article; the band rows stay on disk."""
    small, large = tmp_path / "small" / "archive.db", tmp_path / "large" / "archive.db"
    _archive_of_signatures(small, 100)
    _archive_of_signatures(large, 3000)
    _peak_python_memory_of_a_check(small)  # imports, caches
    growth = _peak_python_memory_of_a_check(large) - _peak_python_memory_of_a_check(small)
    assert growth < 100_000  # bytes, for 2900 more articles
