"""The knowledge base and its ranked keyword search."""

from __future__ import annotations

import pytest

from labsupport.corpus import DOCUMENTS, get_document, search, terms


def test_corpus_has_at_least_twelve_documents_with_sequential_ids() -> None:
    assert len(DOCUMENTS) >= 12
    assert [d.id for d in DOCUMENTS] == [f"D{i}" for i in range(1, len(DOCUMENTS) + 1)]
    assert all(d.title and d.text.endswith(".") for d in DOCUMENTS)


def test_terms_drop_stop_words_and_fold_plurals() -> None:
    assert terms("Who runs billing?") == ["run", "billing"]
    assert terms("The policies") == ["policy"]


@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("who runs billing", "D1"),
        ("refund policy", "D8"),
        ("who leads the platform team", "D2"),
        ("on-call rotation monday", "D5"),
        ("invoices not sent in March", "D9"),
        ("remote work abroad", "D12"),
    ],
)
def test_search_ranks_the_obvious_document_first(query: str, top: str) -> None:
    assert search(query)[0].doc.id == top


def test_search_is_deterministic_and_sorted_by_score() -> None:
    first = [(h.doc.id, h.score) for h in search("billing payments team", k=5)]
    again = [(h.doc.id, h.score) for h in search("billing payments team", k=5)]
    assert first == again
    scores = [s for _, s in first]
    assert scores == sorted(scores, reverse=True)
    assert len(first) == 5


def test_search_returns_nothing_for_an_unrelated_question() -> None:
    assert search("what is the weather in Paris") == []
    assert search("the of and") == []


@pytest.mark.parametrize("k", [0, -1, True, 2.5])
def test_search_rejects_a_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match="k must be a positive int"):
        search("billing", k=k)  # type: ignore[arg-type]


def test_search_rejects_a_non_string_query() -> None:
    with pytest.raises(TypeError, match="query must be a str, got int"):
        search(42)  # type: ignore[arg-type]


def test_get_document_names_the_missing_id() -> None:
    assert get_document("D3").title == "Dana Okafor"
    with pytest.raises(KeyError, match="no document 'D99'"):
        get_document("D99")
