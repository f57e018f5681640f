"""A small knowledge base of the fictional company Kestrel, and a ranked keyword search.

The search is deliberately plain (BM25 over lower-cased words, titles counted
twice) so that students can predict its results, and it is deterministic: the
same query always gives the same documents, scores and order.

Example:
    >>> [(h.doc.id, h.score) for h in search("who runs billing", k=2)]
    [('D1', 3.142), ('D3', 2.771)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DOCUMENTS", "Document", "Hit", "get_document", "search", "terms"]


@dataclass(frozen=True, slots=True)
class Document:
    """One knowledge-base article."""

    id: str
    title: str
    text: str

    def sentences(self) -> list[str]:
        """The text split into sentences, each ending in its punctuation."""
        return [s for s in re.split(r"(?<=[.!?])\s+", self.text.strip()) if s]


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the document and its relevance score (higher is better)."""

    doc: Document
    score: float


DOCUMENTS: tuple[Document, ...] = (
    Document(
        "D1",
        "Payments team",
        "The Payments team runs billing, invoicing and refunds for every Kestrel product. "
        "It owns the billing service and the payment-provider integrations, and sits in Lisbon.",
    ),
    Document(
        "D2",
        "Platform team",
        "The Platform team runs the Kubernetes clusters, the CI pipelines and the internal "
        "developer portal. Its lead is Marcus Lindqvist.",
    ),
    Document(
        "D3",
        "Dana Okafor",
        "Dana Okafor leads the Payments team, which runs billing. She joined Kestrel in 2021 "
        "and chairs the monthly pricing review.",
    ),
    Document(
        "D4",
        "Marcus Lindqvist",
        "Marcus Lindqvist leads the Platform team. He is the escalation contact for production "
        "outages and approves every cluster upgrade.",
    ),
    Document(
        "D5",
        "On-call rotation",
        "Every engineering team runs a weekly on-call rotation that starts on Monday at 09:00 "
        "Lisbon time. The on-call engineer acknowledges pages within 15 minutes and hands over "
        "with a written summary.",
    ),
    Document(
        "D6",
        "Paging and escalation",
        "A page goes to the primary on-call engineer first. If nobody acknowledges it within 15 "
        "minutes it escalates to the secondary on-call, then to the team lead. Severity 1 "
        "incidents also page Marcus Lindqvist.",
    ),
    Document(
        "D7",
        "Billing cycle",
        "Customers are invoiced on the first day of each month for the previous month's usage. "
        "A failed card payment is retried three times over seven days before the account is "
        "paused.",
    ),
    Document(
        "D8",
        "Refund policy",
        "Any Payments engineer may approve a refund of up to 500 euros; larger refunds need "
        "approval from Dana Okafor. Refunds go back to the original payment method within five "
        "working days.",
    ),
    Document(
        "D9",
        "Incident INC-2041: invoices not sent",
        "On 3 March the invoice generator stopped for four hours because a TLS certificate "
        "expired. The Payments team restored it and added alerts for certificates that expire "
        "within 30 days.",
    ),
    Document(
        "D10",
        "Incident INC-2057: cluster upgrade errors",
        "A Kubernetes upgrade on 18 April caused ten minutes of API errors. The Platform team "
        "rolled it back and now upgrades one region at a time.",
    ),
    Document(
        "D11",
        "Incident review policy",
        "Every severity 1 or severity 2 incident gets a blameless review within five working "
        "days. The review records a timeline, the causes and follow-up actions, each with an "
        "owner.",
    ),
    Document(
        "D12",
        "Remote work policy",
        "Employees may work remotely from any EU country for up to 90 days a year. Longer stays "
        "need approval from People Operations.",
    ),
    Document(
        "D13",
        "Expense policy",
        "Travel and equipment expenses under 200 euros need no approval in advance. Receipts go "
        "into the expenses tool within 30 days of purchase.",
    ),
    Document(
        "D14",
        "Security team",
        "The Security team, led by Priya Raman, reviews production access requests every "
        "weekday. Access to payment data requires a signed data-handling agreement.",
    ),
    Document(
        "D15",
        "Customer support",
        "The Support team answers customer tickets around the clock. Billing questions are "
        "handed to the Payments team in the payments-help channel.",
    ),
)

_BY_ID = {doc.id: doc for doc in DOCUMENTS}

_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been by can could did do does doing
    for from get gets had has have how i if in into is it its me my of on or our should so
    some than that the their them then there these they this those to us was we were what
    when where which who whom whose why will with would you your tell know please""".split()  # noqa: SIM905
)

# BM25's usual constants: term-frequency saturation and length normalisation.
_K1 = 1.2
_B = 0.75


def _stem(word: str) -> str:
    """Fold a few plural and verb endings, so 'runs' finds 'run' and 'policies' 'policy'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The searchable words of ``text``: lower-cased, stop words dropped, lightly stemmed.

    Example: ``terms("Who runs billing?") -> ['run', 'billing']``
    """
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [_stem(w) for w in words if w not in _STOPWORDS]


class _Index:
    """Term statistics of a fixed set of documents, computed once."""

    def __init__(self, docs: Sequence[Document]) -> None:
        self.docs = tuple(docs)
        # Titles count twice: a title word says more about a document than a body word.
        self.tf = [Counter(terms(d.title) * 2 + terms(d.text)) for d in self.docs]
        self.lengths = [sum(c.values()) for c in self.tf]
        self.avg_length = sum(self.lengths) / len(self.docs)
        df: Counter[str] = Counter()
        for counts in self.tf:
            df.update(counts.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def score(self, i: int, query_terms: Sequence[str]) -> float:
        counts, length = self.tf[i], self.lengths[i]
        total = 0.0
        for term in set(query_terms):
            f = counts.get(term, 0)
            if f:
                norm = f + _K1 * (1 - _B + _B * length / self.avg_length)
                total += self.idf[term] * f * (_K1 + 1) / norm
        return total


_INDEX = _Index(DOCUMENTS)


def search(query: str, k: int = 3) -> list[Hit]:
    """Return up to ``k`` documents that match ``query``, best first.

    Documents that share no word with the query are never returned, so an
    unrelated question gets an empty list rather than a weak guess. Ties are
    broken by document order, and scores are rounded to 3 decimals so that they
    print the same everywhere.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {type(query).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    query_terms = terms(query)
    if not query_terms:
        return []
    scored = [(round(_INDEX.score(i, query_terms), 3), i) for i in range(len(_INDEX.docs))]
    ranked = sorted((s, i) for s, i in scored if s > 0)
    ranked.sort(key=lambda pair: (-pair[0], pair[1]))
    return [Hit(_INDEX.docs[i], s) for s, i in ranked[:k]]


def get_document(doc_id: str) -> Document:
    """The document with this id; ``KeyError`` names the id when there is none."""
    try:
        return _BY_ID[doc_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise KeyError(f"no document {doc_id!r}; the knowledge base has {known}") from None
