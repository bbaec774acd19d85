"""The knowledge base (知识库): article files and a Chinese-capable search engine.

Pure code, no file or git I/O: the store reads `knowledge/*.md` and resolved
tickets, turns them into `Doc`s and builds (or loads from its cache) a
`SearchIndex`, and derives from it the `SuggestIndex` that `new` queries
(kept in an SQLite connection the store opens).
"""

from .analysis import SYNONYM_GROUPS, Analyzer, normalize
from .article import (
    SECTIONS,
    Article,
    ArticleError,
    article_solution_first_line,
    draft_from_incident,
    new_article_id,
    normalize_article_id,
    parse_article,
    render_article,
)
from .search import (
    Doc,
    Hit,
    IndexFormatError,
    SearchIndex,
    doc_from_article,
    doc_from_json,
    doc_from_ticket,
    doc_to_json,
    docs_fingerprint,
)
from .suggestdb import SuggestIndex, build_suggest_index

__all__ = [
    "SECTIONS",
    "SYNONYM_GROUPS",
    "Analyzer",
    "Article",
    "ArticleError",
    "Doc",
    "Hit",
    "IndexFormatError",
    "SearchIndex",
    "SuggestIndex",
    "article_solution_first_line",
    "build_suggest_index",
    "doc_from_article",
    "doc_from_json",
    "doc_from_ticket",
    "doc_to_json",
    "docs_fingerprint",
    "draft_from_incident",
    "new_article_id",
    "normalize",
    "normalize_article_id",
    "parse_article",
    "render_article",
]
