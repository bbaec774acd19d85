"""The knowledge base (知识库): articles and a Chinese-capable search engine.

Pure code, exported here: the article format (`article`), changes to an
article (`changes`), searchable documents (`docs`), text analysis
(`analysis`), the full index (`search`) and the suggestion index `new`
queries (`suggestdb`, over an SQLite connection its caller opens).

The articles of a store (`knowledge/*.md`) are read and committed by
`elinkctl.store.articles`; the caches built from articles and resolved
tickets live in `elinkctl.cache`.
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
from .docs import (
    SEARCHABLE_STATUSES,
    Doc,
    doc_from_article,
    doc_from_json,
    doc_from_ticket,
    doc_from_ticket_text,
    doc_to_json,
)
from .search import Hit, IndexFormatError, SearchIndex, docs_fingerprint
from .suggestdb import SuggestIndex, build_suggest_index

__all__ = [
    "SEARCHABLE_STATUSES",
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
    "doc_from_ticket_text",
    "doc_to_json",
    "docs_fingerprint",
    "draft_from_incident",
    "new_article_id",
    "normalize",
    "normalize_article_id",
    "parse_article",
    "render_article",
]
