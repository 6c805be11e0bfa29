"""Okapi BM25 over small documents (files, symbols, past commit messages). Pure, in memory."""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

K1 = 1.2
B = 0.75
MIN_DOCS = 50


@dataclass(frozen=True)
class BM25:
    """An inverted index: term -> [(document, term frequency)], and each document's length."""

    postings: dict[str, list[tuple[int, int]]]
    lengths: tuple[int, ...]
    average: float

    @cached_property
    def _norms(self) -> tuple[float, ...]:
        """Each document's length normalisation, K1 * (1 - B + B * length / average)."""
        return tuple(K1 * (1 - B + B * length / self.average) for length in self.lengths)

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]]) -> BM25:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths: list[int] = []
        for doc, terms in enumerate(documents):
            lengths.append(len(terms))
            for term, count in Counter(terms).items():
                postings[term].append((doc, count))
        average = sum(lengths) / len(lengths) if lengths else 0.0
        return cls(dict(postings), tuple(lengths), average or 1.0)

    def df(self, term: str) -> int:
        """How many documents hold `term`."""
        return len(self.postings.get(term, ()))

    def idf(self, term: str) -> float:
        df = self.df(term)
        n = len(self.lengths)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5)) if df else 0.0

    def scores(self, query: Iterable[str], max_df: float = 0.25) -> dict[int, float]:
        """Score every document that shares a term with the query.

        Terms found in more than `max_df` of the documents say little and are skipped (in
        corpora of at least MIN_DOCS documents: in a tiny one every term is frequent), unless
        the query has no other: "Version 0.28.0" is still best matched by past releases.
        """
        result: dict[int, float] = defaultdict(float)
        n = len(self.lengths)
        known = {t: self.postings[t] for t in dict.fromkeys(query) if t in self.postings}
        rare = {
            term: posting
            for term, posting in known.items()
            if n < MIN_DOCS or len(posting) <= max_df * n
        }
        norms = self._norms
        for term, posting in (rare or known).items():
            idf = self.idf(term)
            for doc, tf in posting:
                result[doc] += idf * tf * (K1 + 1) / (tf + norms[doc])
        return result

    def top(
        self, query: Iterable[str], k: int, max_df: float = 0.25, first: int = 0
    ) -> list[tuple[int, float]]:
        """The `k` best documents, leaving out those numbered below `first`."""
        scored = self.scores(query, max_df).items()
        kept = (item for item in scored if item[0] >= first)
        return heapq.nsmallest(k, kept, key=lambda item: (-item[1], item[0]))
