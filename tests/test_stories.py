"""Near-duplicate signatures: stored ones must stay comparable with new ones."""
from __future__ import annotations

import re

import numpy as np
import pytest
from datasketch import MinHash

from archive.stories import NUM_PERM, SCHEME, SHINGLE_WORDS, from_blob, signature, to_blob
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
