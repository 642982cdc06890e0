"""Substring search over many short texts through an n-gram index held in numpy arrays.

A text contains a term only if it contains every three-byte sequence (trigram) of the term's
UTF-8 encoding, so the texts holding all of a term's trigrams are the only candidates; each
candidate is then checked with a plain substring test. Terms of two or three bytes are their
own n-gram (bigrams are indexed too), so the index answers them exactly with no check; a
one-byte term is in nearly every text and is simply checked. For the catalog (names,
descriptions, tags) a search thus touches the texts that can match, not every text.

The index is a list of segments, each over a run of consecutive texts (a few MiB of text, so
that building needs memory for one segment at a time) and each three flat arrays built with
vectorised numpy operations: the distinct n-gram codes (sorted), where each code's postings
start, and the postings (text positions, ascending).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Positions = npt.NDArray[np.int32]
SEGMENT_BYTES = 4 * 2**20  # text per segment: building one takes about 40 times this
BIGRAM = 1 << 24  # the bigrams' codes lie above the trigrams' 24 bits


def _bytes(data: bytes) -> npt.NDArray[np.int32]:
    return np.frombuffer(data, dtype=np.uint8).astype(np.int32)


def _trigrams(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    return (b[:-2] << 16) | (b[1:-1] << 8) | b[2:]


def _ngram(raw: bytes) -> int:
    """The code of a two- or three-byte term."""
    if len(raw) == 3:
        return (raw[0] << 16) | (raw[1] << 8) | raw[2]
    return BIGRAM | (raw[0] << 8) | raw[1]


def _changes(ordered: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Where a sorted array's value differs from the one before (the first always does)."""
    return np.concatenate(([True], ordered[1:] != ordered[:-1]))


class _Segment:
    """The postings of a run of consecutive texts (built one run at a time, so that building
    needs memory for one run's n-grams, not for every text's)."""

    def __init__(self, encoded: Sequence[bytes], first: int) -> None:
        # texts joined by newlines: an n-gram that spans two texts holds a newline, which no
        # term does, so it is never looked up
        data = b"\n".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int32, count=len(encoded)) + 1
        text_of = np.repeat(np.arange(first, first + len(encoded), dtype=np.int32),
                            lengths)[:len(data)]
        b = _bytes(data)
        n = len(b)
        pairs = np.empty(max(n - 2, 0) + max(n - 1, 0), dtype=np.int64)
        trigrams, bigrams = pairs[:max(n - 2, 0)], pairs[max(n - 2, 0):]
        trigrams[:] = _trigrams(b)
        bigrams[:] = BIGRAM | (b[:-1] << 8) | b[1:]
        pairs <<= 32
        trigrams |= text_of[:len(trigrams)]
        bigrams |= text_of[:len(bigrams)]
        pairs.sort()  # (np.unique takes many times longer than sort and a neighbour compare)
        pairs = pairs[_changes(pairs)] if len(pairs) else pairs
        grams = pairs >> 32
        self.postings: Positions = (pairs & 0xFFFFFFFF).astype(np.int32)
        starts = np.flatnonzero(_changes(grams)) if len(grams) else np.empty(0, np.int64)
        self.codes = grams[starts]
        self.starts = np.append(starts, len(grams)).astype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.starts.nbytes + self.postings.nbytes)

    def posting(self, code: int) -> Positions:
        i = int(np.searchsorted(self.codes, code))
        if i == len(self.codes) or self.codes[i] != code:
            return self.postings[:0]
        return self.postings[self.starts[i]:self.starts[i + 1]]


class TrigramIndex:
    """Positions of the texts that contain given terms. Texts and terms are compared as given
    (lower-case both for a case-insensitive search); a term never holds a newline."""

    def __init__(self, texts: Sequence[str], *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.texts = list(texts)
        encoded = [t.encode() for t in self.texts]
        self._segments: list[_Segment] = []
        first = 0
        while first < len(encoded) or not self._segments:
            size, last = 0, first
            while last < len(encoded) and (last == first or size + len(encoded[last])
                                           <= segment_bytes):
                size += len(encoded[last]) + 1
                last += 1
            self._segments.append(_Segment(encoded[first:last], first))
            first = last

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the texts not included)."""
        return sum(segment.nbytes for segment in self._segments)

    def _posting(self, code: int) -> Positions:
        if len(self._segments) == 1:
            return self._segments[0].posting(code)
        return np.concatenate([segment.posting(code) for segment in self._segments])

    def candidates(self, terms: Sequence[str]) -> Positions:
        """Ascending positions of the texts holding every n-gram of every term (exactly the
        texts containing the terms, when each is two or three bytes long)."""
        codes: set[int] = set()
        for term in terms:
            raw = term.encode()
            if len(raw) in (2, 3):
                codes.add(_ngram(raw))
            elif len(raw) == 1:
                continue  # in nearly every text: checked one by one
            else:
                codes.update(int(c) for c in _trigrams(_bytes(raw)))
        if not codes:
            return np.arange(len(self.texts), dtype=np.int32)
        postings = sorted((self._posting(c) for c in codes), key=len)
        found = postings[0]
        for posting in postings[1:]:
            if not len(found):
                break
            found = np.intersect1d(found, posting, assume_unique=True)
        return found

    def containing(self, terms: Sequence[str]) -> list[int]:
        """Ascending positions of the texts that contain every term."""
        found: list[int] = self.candidates(terms).tolist()
        texts = self.texts
        for term in terms:
            if len(term.encode()) not in (2, 3):  # those were matched exactly
                found = [i for i in found if term in texts[i]]
        return found
