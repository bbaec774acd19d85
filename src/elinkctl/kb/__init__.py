"""The knowledge base (知识库): article files and a Chinese-capable search engine.

Pure code, no I/O: the store reads `knowledge/*.md` and resolved tickets,
turns them into `Doc`s and builds (or loads from its cache) a `SearchIndex`.
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
    doc_from_ticket,
    docs_fingerprint,
)

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
    "article_solution_first_line",
    "doc_from_article",
    "doc_from_ticket",
    "docs_fingerprint",
    "draft_from_incident",
    "new_article_id",
    "normalize",
    "normalize_article_id",
    "parse_article",
    "render_article",
]
