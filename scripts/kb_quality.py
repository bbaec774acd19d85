#!/usr/bin/env python3
"""Print top-1 / top-3 accuracy of knowledge-base search on the quality set.

    .venv/bin/python scripts/kb_quality.py               # default analyzer
    .venv/bin/python scripts/kb_quality.py --misses      # list queries not at rank 1
    .venv/bin/python scripts/kb_quality.py --ablations   # no synonyms, no unigrams, ...
    .venv/bin/python scripts/kb_quality.py --jieba       # compare with jieba segmentation
    .venv/bin/python scripts/kb_quality.py --noise 10000 # add synthetic tickets as distractors
    .venv/bin/python scripts/kb_quality.py --dev --noise 3000   # the dev sets and their union
    .venv/bin/python scripts/kb_quality.py --noise 100000 --recent 10000
                                      # the suggestion index `new` uses keeps every article
                                      # and the newest 10,000 incidents (the default)

The quality set is tests/kb_quality/: articles/*.md and queries.yaml (query →
the article that answers it). --jieba needs jieba importable (it is not a
project dependency; e.g. `pip install --target /tmp/jiebapkg jieba` and run
with PYTHONPATH=/tmp/jiebapkg).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from elinkctl import yamlio  # noqa: E402
from elinkctl.kb import (  # noqa: E402
    Analyzer,
    Doc,
    Hit,
    SearchIndex,
    SuggestIndex,
    build_suggest_index,
    doc_from_article,
    parse_article,
)
from elinkctl.kb.relevance import (  # noqa: E402
    RELEVANT_COVERAGE,
    STANDOUT_COVERAGE,
    STANDOUT_RATIO,
    SUGGEST_TITLE_COVERAGE,
)
from elinkctl.kb.results import arrange, suggestable  # noqa: E402

QUALITY = ROOT / "tests" / "kb_quality"
TITLE_FLOOR = SUGGEST_TITLE_COVERAGE


def load_items(path: Path, key: str) -> list[tuple[str, str | None]]:
    """(text, expected article ID or None for "no answer") from a queries/titles file.

    Accepts a list under ``queries:``/``titles:`` (or a bare list) of mappings
    with ``query`` or ``title`` and ``expect``.
    """
    data = yamlio.load(path.read_text(encoding="utf-8"))
    items = (
        data.get(key, data.get("queries", data.get("titles"))) if isinstance(data, dict) else data
    )
    out = []
    for item in items or []:
        text = item.get("query", item.get("title"))
        expect = item.get("expect")
        out.append((str(text), None if expect in (None, "", "null") else str(expect)))
    return out


def flood_docs(seed: int = 11) -> list[Doc]:
    """Look-alike incidents as a desk logs them: the same title 33 times (issue 19's flood)."""
    rng = random.Random(seed)
    titles = ["邮件发不出去", "打印机打印不了", "电脑很慢", "网络断了", "系统登录不上", "密码忘了"]
    endings = ["已处理", "重启后恢复", "远程协助解决"]
    out = []
    for t, title in enumerate(titles):
        for i in range(33):
            out.append(
                Doc(
                    id=f"INC-2512{t + 1:02d}-F{i:03d}",
                    kind="ticket",
                    title=title,
                    text=f"用户反映{title}。{rng.choice(endings)}。",
                    system="",
                )
            )
    return out


def load_docs(quality: Path = QUALITY) -> list[Doc]:
    """The quality set's articles as search documents."""
    paths = sorted((quality / "articles").glob("*.md"))
    return [doc_from_article(parse_article(p.read_text(encoding="utf-8"), p)) for p in paths]


def load_queries(quality: Path = QUALITY) -> list[tuple[str, str]]:
    """(query, expected article ID) pairs."""
    data = yamlio.load((quality / "queries.yaml").read_text(encoding="utf-8"))
    return [(str(q["query"]), str(q["expect"])) for q in data["queries"]]


def evaluate(
    index: SearchIndex | SuggestIndex,
    queries: Sequence[tuple[str, str]],
    *,
    synonyms: bool = True,
) -> tuple[float, float, list[tuple[str, str, list[str]]]]:
    """Top-1 and top-3 accuracy, plus (query, expected, top-3 ids) for every top-1 miss."""
    top1 = top3 = 0
    misses = []
    for query, expect in queries:
        ids = [h.id for h in index.search(query, limit=3, synonyms=synonyms, kind="kb")]
        top1 += bool(ids) and ids[0] == expect
        top3 += expect in ids
        if not ids or ids[0] != expect:
            misses.append((query, expect, ids))
    n = len(queries)
    return top1 / n, top3 / n, misses


def noise_docs(count: int, seed: int = 7) -> list[Doc]:
    """Synthetic resolved tickets to dilute IDF the way a real store would."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_kb import synthetic_tickets

    return synthetic_tickets(count, random.Random(seed))


class JiebaAnalyzer(Analyzer):
    """jieba's search-mode segmentation of Chinese runs instead of n-grams."""

    def __init__(self, mode: str, **kwargs: object) -> None:
        import jieba  # type: ignore[import-not-found,import-untyped,unused-ignore]

        jieba.setLogLevel(60)
        jieba.initialize()
        self._cut = jieba.cut_for_search
        self.mode = mode
        self.name = "jieba-" + mode
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _cjk_terms(self, run: str, out: list[str]) -> None:
        words = [w for w in self._cut(run) if w.strip()]
        if self.mode == "words":
            out.extend(words)
        elif self.mode == "words+uni":
            out.extend(words)
            out.extend(c for c in run if not any(c == w for w in words))
        else:  # words+ngrams: everything the default does, plus jieba words of 3+ chars
            super()._cjk_terms(run, out)
            out.extend(w for w in words if len(w) > 2)


def run_suggest(
    docs: list[Doc], queries: list[tuple[str, str]], recent: int, show_misses: bool = False
) -> None:
    """The same measure through the suggestion index `new` searches (`SuggestIndex`).

    It keeps every article and the `recent` newest incidents with the full
    index's weights and statistics, so its article ranking can only match
    or beat the full index's (fewer incidents compete). Also counts the
    queries whose top 3 of any kind differ from the full index's top 3
    restricted to the documents it keeps (should be 0).
    """
    import sqlite3

    index = SearchIndex(docs)
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        t0 = time.perf_counter()
        paths = [f"{d.kind}/{i}" for i, d in enumerate(docs)]
        kept = build_suggest_index(
            conn, index, paths, docs, recent=recent, head="-", fingerprint="-"
        )
        sug = SuggestIndex(conn)
        t1 = time.perf_counter()
        top1, top3, misses = evaluate(sug, queries)
        t2 = time.perf_counter()
        keep = set(sug.ids())
        differ = 0
        for query, _ in queries:
            want = [h for h in index.search(query, len(index)) if h.id in keep][:3]
            differ += sug.search(query, 3) != want
    label = f"suggestion index ({kept} documents)"
    print(
        f"{label:<34} top-1 {top1:6.1%}  top-3 {top3:6.1%}  "
        f"(derive {1000 * (t1 - t0):.0f} ms, {len(queries)} queries {1000 * (t2 - t1):.0f} ms; "
        f"top-3 differs from the full index on {differ})"
    )
    if show_misses:
        print_misses(docs, misses)


def print_misses(docs: list[Doc], misses: list[tuple[str, str, list[str]]]) -> None:
    titles = {d.id: d.title for d in docs}
    for query, expect, ids in misses:
        got = ", ".join(f"{titles.get(i, i)}" for i in ids) or "(nothing)"
        mark = "top-3" if expect in ids else "MISS "
        print(f"   {mark} {query!r}: want {titles[expect]} — got {got}")


def run(
    label: str,
    analyzer: Analyzer,
    docs: list[Doc],
    queries: list[tuple[str, str]],
    synonyms: bool = True,
    show_misses: bool = False,
) -> None:
    t0 = time.perf_counter()
    index = SearchIndex(docs, analyzer=analyzer)
    t1 = time.perf_counter()
    top1, top3, misses = evaluate(index, queries, synonyms=synonyms)
    t2 = time.perf_counter()
    print(
        f"{label:<34} top-1 {top1:6.1%}  top-3 {top3:6.1%}  "
        f"(build {1000 * (t1 - t0):.0f} ms, {len(queries)} queries {1000 * (t2 - t1):.0f} ms)"
    )
    if show_misses:
        print_misses(docs, misses)


CURVE = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def run_set(
    docs: list[Doc],
    queries: list[tuple[str, str | None]],
    titles: list[tuple[str, str | None]],
    recent: int,
    show_misses: bool,
    curves: bool = True,
) -> dict[tuple[str, float], tuple[int, ...]]:
    """kb search and `new` as the desk sees them, with the relevance decision.

    kb search: top-1 among articles (`--kind kb`) and of the mixed list
    (incidents collapsed, answering articles first), and whether the top line
    of an unanswerable query is marked weak. `new`: the suggestion index
    (`recent` incidents), up to three relevant lines: the right article
    among them (and first), and nothing printed for unanswerable titles.
    Then the trade-off curves over the coverage threshold (`VARIANTS`), whose
    counts it returns so that sets can be added up (`--dev`).
    """
    import sqlite3

    index = SearchIndex(docs)
    titles_of = {d.id: d.title for d in docs}
    kb_hits = {q: index.search(q, 3, kind="kb") for q, _ in queries}
    mixed = {q: index.search(q, 10, collapse=True) for q, _ in queries}  # as `kb search`
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        paths = [f"{d.kind}/{i}" for i, d in enumerate(docs)]
        build_suggest_index(conn, index, paths, docs, recent=recent, head="-", fingerprint="-")
        sug = SuggestIndex(conn)
        sug_hits = {t: sug.search(t, 4 * 3 + 40) for t, _ in titles}  # as `new`
    answerable = [(q, e) for q, e in queries if e is not None]
    unanswerable = [q for q, e in queries if e is None]
    ans_titles = [(t, e) for t, e in titles if e is not None]
    no_titles = [t for t, e in titles if e is None]

    no_veto = {key: [replace(h, lacks_head=False) for h in hits] for key, hits in mixed.items()}
    no_veto_sug = {
        key: [replace(h, lacks_head=False) for h in hits] for key, hits in sug_hits.items()
    }

    def search_at(
        th: float, so: float = STANDOUT_COVERAGE, veto: bool = True
    ) -> tuple[int, int, int, int]:
        mixed_ = mixed if veto else no_veto
        kb1 = sum(bool(kb_hits[q]) and kb_hits[q][0].id == e for q, e in answerable)
        mix1 = sum(
            bool(lines := arrange(mixed_[q], 10, th, so))
            and lines[0].hit.id == e
            and lines[0].relevant
            for q, e in answerable
        )
        weak = sum(
            not (lines := arrange(mixed_[q], 10, th, so)) or not lines[0].relevant
            for q in unanswerable
        )
        kbrel = sum(
            bool(kb_hits[q]) and kb_hits[q][0].id == e and (kb_hits[q][0].coverage or 0) >= th
            for q, e in answerable
        )
        return kb1, mix1, weak, kbrel

    def suggestions(
        hits: list[Hit], th: float, so: float = STANDOUT_COVERAGE, tf: float = TITLE_FLOOR
    ) -> list[str]:
        if so == STANDOUT_COVERAGE:  # as `new` decides (results.suggestable)
            return [ln.hit.id for ln in suggestable(hits, th, tf)][:3]
        return [ln.hit.id for ln in arrange(hits, 40, th, so, title_floor=tf) if ln.relevant][:3]

    def new_at(
        th: float, so: float = STANDOUT_COVERAGE, veto: bool = True, tf: float = TITLE_FLOOR
    ) -> tuple[int, int, int]:
        hits_ = sug_hits if veto else no_veto_sug
        among = first = 0
        for t, e in ans_titles:
            ids = suggestions(hits_[t], th, so, tf)
            among += e in ids
            first += bool(ids) and ids[0] == e
        silent = sum(not suggestions(hits_[t], th, so, tf) for t in no_titles)
        return among, first, silent

    na, nu = len(answerable), len(unanswerable)
    kb1, mix1, weak, _ = search_at(RELEVANT_COVERAGE)
    first = sum(
        bool(lines := arrange(mixed[q], 10)) and lines[0].hit.id == e for q, e in answerable
    )
    print(
        f"kb search: top-1 (--kind kb) {kb1}/{na} = {kb1 / max(na, 1):.1%}; "
        f"first line of the mixed list {first}/{na} = {first / max(na, 1):.1%}, "
        f"and marked relevant {mix1}/{na} = {mix1 / max(na, 1):.1%}; "
        f"unanswerable marked weak {weak}/{nu}"
    )
    if ans_titles or no_titles:
        among, first, silent = new_at(RELEVANT_COVERAGE)
        nt = len(ans_titles)
        print(
            f"new: right article suggested {among}/{nt} = {among / max(nt, 1):.1%} "
            f"(first {first}/{nt}); silent on unanswerable {silent}/{len(no_titles)}"
        )
    counts: dict[tuple[str, float], tuple[int, ...]] = {}
    for name, standout, veto, tf in VARIANTS:
        for th in CURVE:
            _, mix1, weak, _ = search_at(th, standout, veto)
            among, _, silent = new_at(th, standout, veto, tf)
            counts[name, th] = (mix1, na, weak, nu, among, len(ans_titles), silent, len(no_titles))
    if curves:
        print_curves(counts)
    if show_misses:
        for q, e in answerable:
            lines = arrange(mixed[q], 10)
            if not lines or lines[0].hit.id != e or not lines[0].relevant:
                got = "; ".join(
                    f"{ln.hit.id} {ln.hit.title} c={ln.hit.coverage:.2f}"
                    + (f" ×{ln.similar_count}" if ln.similar_count > 1 else "")
                    for ln in lines[:3]
                )
                print(f"   MISS {q!r}: want {e} {titles_of.get(e or '', '?')} — got {got}")
        for q in unanswerable:
            lines = arrange(mixed[q], 10)
            if lines and lines[0].relevant:
                h = lines[0].hit
                print(f"   LOUD {q!r}: {h.id} {h.title} c={h.coverage:.2f}")
        for t, e in titles:
            ids = suggestions(sug_hits[t], RELEVANT_COVERAGE)
            if (e is None and ids) or (e is not None and e not in ids):
                got = ", ".join(f"{h.id} {h.title} c={h.coverage:.2f}" for h in sug_hits[t][:3])
                print(f"   NEW  {t!r}: want {e} — suggested {ids}; top {got}")
    return counts


VARIANTS = (
    (
        "the decision: coverage, stand-out, the last word; new: title",
        STANDOUT_COVERAGE,
        True,
        TITLE_FLOOR,
    ),
    ("without new's title floor (round 4's rule)", STANDOUT_COVERAGE, True, 0.0),
    ("without the last-word veto (round 2's rule)", STANDOUT_COVERAGE, False, 0.0),
    ("coverage alone", 1.0, False, 0.0),
)
"""(name, stand-out coverage, the last-word and request veto, `new`'s title floor)."""


def print_curves(counts: dict[tuple[str, float], tuple[int, ...]]) -> None:
    """The trade-off over the coverage threshold, one table per variant of the decision."""
    for name, _, _, _ in VARIANTS:
        print(
            f"trade-off ({name}; stand-out from {STANDOUT_COVERAGE}, others ≤ {STANDOUT_RATIO}×; "
            f"default threshold {RELEVANT_COVERAGE}):"
        )
        print(
            "  threshold  search: answerable top-1 relevant | unanswerable weak"
            "  ||  new: answerable suggested | unanswerable silent"
        )
        for th in CURVE:
            mix1, na, weak, nu, among, nt, silent, nn = counts[name, th]
            row = f"  {th:9.2f}  {mix1:>4}/{na} {mix1 / max(na, 1):6.1%} | {weak:>3}/{nu}"
            if nt or nn:
                row += f"  ||  {among:>3}/{nt} {among / max(nt, 1):6.1%} | {silent:>3}/{nn}"
            print(row)


DEV_SETS = (
    ("tests/kb_quality", "dev_queries.yaml", "dev_titles.yaml"),
    ("tests/kb_quality/dev2", "queries.yaml", "titles.yaml"),
    ("tests/kb_heldout", "queries.yaml", "titles.yaml"),
    ("tests/kb_heldout2", "queries.yaml", "titles.yaml"),
    ("tests/kb_heldout3", "queries.yaml", "titles.yaml"),
    ("tests/kb_heldout4", "queries.yaml", "titles.yaml"),
    ("tests/kb_heldout5", "queries.yaml", "titles.yaml"),
)
"""The development sets (tests/kb_heldout … tests/kb_heldout5 were the first to fifth
held-out sets; each was run once after a freeze and is development data now:
development sets 3 to 7). A later round needs a new held-out set written the same way."""


def evaluate_set(
    path: Path,
    qfile: str,
    tfile: str,
    noise: int,
    recent: int,
    misses: bool,
    curves: bool = True,
) -> dict[tuple[str, float], tuple[int, ...]]:
    """`run_set` on a set directory, with `noise` generated incidents."""
    docs = load_docs(path)
    queries = load_items(path / qfile, "queries")
    tpath = path / tfile
    titles = load_items(tpath, "titles") if tpath.is_file() else []
    if noise:
        flood = flood_docs()
        docs = docs + noise_docs(max(0, noise - len(flood))) + flood
    print(
        f"{path}: {len([d for d in docs if d.kind == 'kb'])} articles, "
        f"{len(docs)} documents, {len(queries)} queries "
        f"({sum(e is None for _, e in queries)} unanswerable), {len(titles)} titles "
        f"({sum(e is None for _, e in titles)} unanswerable)"
    )
    return run_set(docs, queries, titles, recent or 10_000, misses, curves)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--misses", action="store_true", help="list queries not ranked first")
    ap.add_argument("--ablations", action="store_true", help="also run without synonyms etc.")
    ap.add_argument("--jieba", action="store_true", help="also run jieba-based analyzers")
    ap.add_argument("--noise", type=int, default=0, help="add N synthetic tickets")
    ap.add_argument(
        "--recent",
        type=int,
        default=10_000,
        help="incidents the suggestion index keeps (SUGGEST_RECENT; 0: skip that line)",
    )
    ap.add_argument(
        "--set",
        type=Path,
        help="evaluate a set directory (articles/, queries.yaml, titles.yaml; expect: null "
        "for unanswerable) as the desk sees it: relevance, collapsed incidents, `new`",
    )
    ap.add_argument(
        "--dev",
        action="store_true",
        help="the seven development sets (DEV_SETS), each, then their union's trade-off curves",
    )
    ap.add_argument("--queries", default="queries.yaml", help="queries file in the set")
    ap.add_argument("--titles", default="titles.yaml", help="`new` titles file in the set")
    args = ap.parse_args(argv)
    if args.dev:
        total: dict[tuple[str, float], list[int]] = {}
        for path, qfile, tfile in DEV_SETS:
            counts = evaluate_set(
                ROOT / path, qfile, tfile, args.noise, args.recent, args.misses, curves=False
            )
            for key, row in counts.items():
                total[key] = [
                    a + b for a, b in zip(total.get(key, [0] * len(row)), row, strict=True)
                ]
        print("union of the development sets:")
        print_curves({key: tuple(row) for key, row in total.items()})
        return 0
    if args.set is not None:
        evaluate_set(args.set, args.queries, args.titles, args.noise, args.recent, args.misses)
        return 0
    docs = load_docs()
    queries = load_queries()
    if args.noise:
        docs = docs + noise_docs(args.noise)
    print(
        f"{len([d for d in docs if d.kind == 'kb'])} articles, {len(docs)} documents, "
        f"{len(queries)} queries"
    )
    run("n-grams + synonyms (default)", Analyzer(), docs, queries, show_misses=args.misses)
    if args.recent:
        run_suggest(docs, queries, args.recent, show_misses=args.misses)
    if args.ablations:
        run("n-grams, no synonyms", Analyzer(), docs, queries, synonyms=False)
        run("bigrams only (no unigrams)", Analyzer(unigram_weight=0.0), docs, queries)
        run("unigram weight 0.5", Analyzer(unigram_weight=0.5), docs, queries)
        run("synonym weight 1.0", Analyzer(synonym_weight=1.0), docs, queries)
        run("synonym weight 0.3", Analyzer(synonym_weight=0.3), docs, queries)
    if args.jieba:
        for mode in ("words", "words+uni", "words+ngrams"):
            an = JiebaAnalyzer(mode)
            run(f"jieba {mode} + synonyms", an, docs, queries, show_misses=args.misses)
            run(f"jieba {mode}, no synonyms", an, docs, queries, synonyms=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
