"""Marketplace search (docs/MARKETPLACE.md, "Search"): words, filters that combine, sorts.

On PostgreSQL the words are matched by full-text search over ``marketplace_listing.search_vector``, a
stored generated column migration 0004 adds (title weight A; domain and category B; description C; the
whole search document with the model card D), with a GIN index. They are ranked by ``ts_rank`` over
``search_rank_vector``, the same without the document (A to C): a word only the model card holds ranks
0, as on SQLite, and ranking many results reads small vectors. Each query word is first looked up in
``marketplace_search_word``, the vocabulary of the listings' words (migration 0004, GIN trigram index):
a word listings hold is searched as it is (stemmed: "reviews" finds "review"); a word that only begins
some ("sentim", while typing) is replaced by up to five of them; a word like no other is replaced by
the three most like it by trigram similarity (pg_trgm, 0.4 or more), so "sentimnet" finds sentiment
models. Only whole words reach the tsquery: a prefix query (``word:*``) is costed as a scan of the
GIN index, and the planner reads the table instead.

On SQLite (development and the default test run) each word must be a substring of the search document,
and the score is per word: 8 in the title, 4 in the domain or category, 2 in the description, 0 anywhere
else (the model card). Title before category before description before card is PostgreSQL's order too, so
both give the same order where no two results tie in that score. A word no document contains is replaced
by its close words (``difflib``, ratio 0.75 or more) from the public documents: typos are found there too,
though not always ranked as PostgreSQL ranks them.
"""

from __future__ import annotations

import difflib
import re

from django.db import connection
from django.db.models import BooleanField, Case, F, FloatField, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from .models import Listing

ORDERINGS = {
    "relevance": None,  # with words; else newest
    "newest": "-created_at", "oldest": "created_at",
    "price": "price_min", "-price": "-price_min",
    "retention": "retention", "-retention": "-retention",
    "latency": "latency_ms", "-latency": "-latency_ms", "speed": "latency_ms",
    "rating": "rating_avg", "-rating": "-rating_avg",
    "size": "size_bytes", "-size": "-size_bytes",
}
MAX_WORDS = 8
TRIGRAM_SIMILARITY = 0.4  # above pg_trgm's default 0.3: "fasion" is like "fashion" (0.5), not "fast" (0.33)
CLOSE_WORDS = 3
COMPLETIONS = 5
SQLITE_CLOSE_RATIO = 0.75
WORD = re.compile(r"[^\W_]+")  # what may stand in a tsquery as a term
TSQUERY = "to_tsquery('english'::regconfig, %s)"
VECTOR = '"marketplace_listing"."search_vector"'
RANK_VECTOR = '"marketplace_listing"."search_rank_vector"'


def query_words(q: str) -> list[str]:
    """Lower-case words of letters and digits (nothing else reaches a tsquery), the first eight."""
    return re.findall(r"[^\W_]+", (q or "").lower())[:MAX_WORDS]


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def text_matched(listings: QuerySet, words: list[str]) -> QuerySet:
    """``listings`` holding every word (or a close word), annotated with ``relevance``."""
    if not words:
        return listings.annotate(relevance=Value(0.0, output_field=FloatField()))
    if is_postgresql():
        return _postgresql_matched(listings, words)
    return _sqlite_matched(listings, words)


# --- PostgreSQL: the generated tsvector column and the trigram vocabulary


def _postgresql_matched(listings: QuerySet, words: list[str]) -> QuerySet:
    tsquery = " & ".join(_tsquery_term(_postgresql_terms(word)) for word in words)
    # the SQL is constants; the query's words travel as a parameter, only plain words (WORD)
    matches = RawSQL(f"{VECTOR} @@ {TSQUERY}", [tsquery], output_field=BooleanField())  # nosec B611 - constant SQL, words as a parameter
    rank = RawSQL(f"ts_rank({RANK_VECTOR}, {TSQUERY})", [tsquery], output_field=FloatField())  # nosec B611 - as above
    return listings.filter(matches).annotate(relevance=rank)


def _tsquery_term(terms: list[str]) -> str:
    return "(" + " | ".join(terms) + ")"


def _postgresql_terms(word: str) -> list[str]:
    """What a query word matches, from the vocabulary listings hold: the word itself when a listing holds
    it; else the words it begins (typing "sentim"); else the words most like it (a typo); else itself.
    Whole words only, so the GIN index's estimate stays small (a prefix ``:*`` query is costed as a scan
    of the index and planned as a scan of the table)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT word FROM marketplace_search_word WHERE word >= %s AND word < %s "
                       "ORDER BY word = %s DESC, length(word), word LIMIT %s",
                       [word, word + "\uffff", word, COMPLETIONS])
        # only plain words reach the tsquery: the vocabulary also holds tokens such as host:port
        known = [row[0] for row in cursor.fetchall() if WORD.fullmatch(row[0])]
        if known:
            return [word] if known[0] == word else known
        # % takes the index (pg_trgm's threshold, 0.3); the stricter threshold is checked on its few rows
        cursor.execute("SELECT word FROM marketplace_search_word WHERE word %% %s AND similarity(word, %s) >= %s "
                       "ORDER BY similarity(word, %s) DESC, word LIMIT %s",
                       [word, word, TRIGRAM_SIMILARITY, word, CLOSE_WORDS])
        close = [row[0] for row in cursor.fetchall()]
    return [w for w in close if WORD.fullmatch(w)] or [word]


def _postgresql_close_words(word: str) -> list[str]:
    """The words a typo is replaced by (none when the word or a completion of it is known)."""
    terms = _postgresql_terms(word)
    return [] if terms == [word] or all(term.startswith(word) for term in terms) else terms


def search_words_add(text: str) -> None:
    """Add the words of a listing's search document to the vocabulary typos are corrected against
    (PostgreSQL only; SQLite reads the documents themselves)."""
    if not is_postgresql() or not text:
        return
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO marketplace_search_word (word) SELECT DISTINCT w FROM "
                       "unnest(tsvector_to_array(to_tsvector('simple'::regconfig, %s))) AS w "
                       "WHERE length(w) BETWEEN 3 AND 40 ON CONFLICT DO NOTHING", [text])


# --- SQLite: substrings and a simple score


def _sqlite_matched(listings: QuerySet, words: list[str]) -> QuerySet:
    score = Value(0, output_field=IntegerField())
    for word in words:
        variants = [word] if listings.filter(search_document__icontains=word).exists() else _sqlite_close_words(word)
        matched = Q(pk__in=[])
        for variant in variants:
            matched |= Q(search_document__icontains=variant)
        listings = listings.filter(matched)
        score = score + _sqlite_word_score(variants)
    return listings.annotate(relevance=score)


def _sqlite_word_score(variants: list[str]):
    def anywhere(*fields):
        q = Q(pk__in=[])
        for field in fields:
            for variant in variants:
                q |= Q(**{f"{field}__icontains": variant})
        return q

    return Case(When(anywhere("title"), then=Value(8)), When(anywhere("domain", "category"), then=Value(4)),
                When(anywhere("description"), then=Value(2)), default=Value(0), output_field=IntegerField())


def _sqlite_close_words(word: str) -> list[str]:
    vocabulary = set()
    for document in Listing.objects.filter(status=Listing.Status.ACTIVE).values_list("search_document", flat=True):
        vocabulary.update(re.findall(r"[^\W_]{3,40}", document.lower()))
    return difflib.get_close_matches(word, sorted(vocabulary), n=CLOSE_WORDS, cutoff=SQLITE_CLOSE_RATIO)


def ordered(listings: QuerySet, ordering: str, *, has_words: bool) -> QuerySet:
    """Sorted by ``ordering`` (relevance only with words); a result without the figure comes last."""
    field = ORDERINGS.get(ordering) if ordering != "relevance" or has_words else ORDERINGS["newest"]
    if field is None:
        return listings.order_by(F("relevance").desc(), "-created_at", "-pk")
    expression = F(field.lstrip("-"))
    expression = expression.desc(nulls_last=True) if field.startswith("-") else expression.asc(nulls_last=True)
    return listings.order_by(expression, "-created_at", "-pk")
