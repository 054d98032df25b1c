//! The tantivy side: an English BM25 index over title + text, keyed by row number.
//!
//! Queries are never parsed as query syntax: the text goes through the same analyzer as the
//! documents and becomes a disjunction of its distinct terms, so quotes, colons, brackets or a
//! stray `AND` in user input can't fail or change the meaning of a search.

use std::collections::BTreeSet;
use std::path::Path;

use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STORED,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use crate::shards::LexicalStats;
use crate::{IndexError, Result};

const TOKENIZER: &str = "trine_en";
const WRITER_BUDGET: usize = 100_000_000;

/// The analyzer used for documents and queries.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::English).expect("English stop words"))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The terms a text analyses to, in order of first appearance, without repeats.
pub fn terms(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token().text.clone();
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

fn schema() -> (Schema, Field, Field) {
    let mut b = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let body = b.add_text_field(
        "body",
        TextOptions::default().set_indexing_options(indexing),
    );
    let row = b.add_u64_field("row", FAST | STORED);
    (b.build(), body, row)
}

/// An open lexical index.
pub struct Lexical {
    reader: IndexReader,
    body: Field,
}

fn register(index: &Index) {
    index.tokenizers().register(TOKENIZER, analyzer());
}

/// Writes `(row, title + " " + text)` pairs into a new tantivy index in `dir`.
pub fn create<'a>(dir: &Path, docs: impl Iterator<Item = (u64, String)> + 'a) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
    let (schema, body, row) = schema();
    let index = Index::create_in_dir(dir, schema)?;
    register(&index);
    write_docs(&index, body, row, docs)
}

/// Appends documents to an existing tantivy index in `dir` (a copy that is not live yet).
pub fn append<'a>(dir: &Path, docs: impl Iterator<Item = (u64, String)> + 'a) -> Result<()> {
    let index = Index::open_in_dir(dir)?;
    register(&index);
    let (_, body, row) = schema();
    write_docs(&index, body, row, docs)
}

fn write_docs(
    index: &Index,
    body: Field,
    row: Field,
    docs: impl Iterator<Item = (u64, String)>,
) -> Result<()> {
    let mut writer: IndexWriter = index.writer(WRITER_BUDGET)?;
    for (r, text) in docs {
        writer.add_document(doc!(body => text, row => r))?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

/// `(row, score)` hits, best first.
type RowHits = Vec<(u64, f32)>;

/// tantivy's hits as `(row, score)`, read from the row column.
fn rows_of(
    searcher: &tantivy::Searcher,
    top: Vec<(f32, tantivy::DocAddress)>,
) -> Result<Vec<(u64, f32)>> {
    let mut out = Vec::with_capacity(top.len());
    for (score, addr) in top {
        let column = searcher
            .segment_reader(addr.segment_ord)
            .fast_fields()
            .u64("row")?;
        let row = column
            .first(addr.doc_id)
            .ok_or_else(|| IndexError::Corrupt {
                path: Default::default(),
                message: "lexical document without a row number".into(),
            })?;
        out.push((row, score));
    }
    Ok(out)
}

/// Corpus-wide BM25 statistics handed to tantivy in place of one index's.
struct Global<'a>(&'a LexicalStats);

impl Bm25StatisticsProvider for Global<'_> {
    fn total_num_tokens(&self, _field: Field) -> tantivy::Result<u64> {
        Ok(self.0.tokens)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.0.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let df = term
            .value()
            .as_str()
            .and_then(|t| self.0.doc_freq.get(t))
            .copied()
            .unwrap_or(0);
        Ok(df.min(self.0.docs))
    }
}

impl Lexical {
    /// Opens the tantivy index in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join("meta.json").is_file() {
            return Err(IndexError::Missing {
                path: dir.to_path_buf(),
                message: "lexical index is missing (no meta.json)".into(),
            });
        }
        let index = Index::open_in_dir(dir)?;
        register(&index);
        let schema = index.schema();
        let body = match (schema.get_field("body"), schema.get_field("row")) {
            (Ok(b), Ok(_)) => b,
            _ => {
                return Err(IndexError::Corrupt {
                    path: dir.to_path_buf(),
                    message: "lexical schema lacks the body or row field".into(),
                })
            }
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Lexical { reader, body })
    }

    /// Number of indexed documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The query tantivy runs for `text` (also used for snippets).
    pub fn query(&self, text: &str) -> Box<dyn Query> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms(text)
            .into_iter()
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(self.body, &t),
                    IndexRecordOption::WithFreqs,
                ));
                (Occur::Should, q)
            })
            .collect();
        Box::new(BooleanQuery::new(clauses))
    }

    /// An HTML snippet of `text` (at most `max_chars`) around the words of `query`, matches in
    /// `<b>`; the start of the text, escaped, when nothing matches.
    pub fn snippet(&self, query: &str, text: &str, max_chars: usize) -> Result<String> {
        let searcher = self.reader.searcher();
        let q = self.query(query);
        let mut generator = SnippetGenerator::create(&searcher, &*q, self.body)?;
        generator.set_max_num_chars(max_chars);
        let snippet = generator.snippet(text);
        if !snippet.is_empty() {
            return Ok(snippet.to_html());
        }
        let head: String = text.chars().take(max_chars).collect();
        Ok(head
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;"))
    }

    /// The `k` best rows by BM25 for `text`, as `(row, score)`, best first. A query whose every
    /// word is a stop word matches nothing.
    pub fn search(&self, text: &str, k: usize) -> Result<Vec<(u64, f32)>> {
        self.collect(text, k, None::<fn(u64) -> bool>)
    }

    /// [`Lexical::search`] over the rows `keep` accepts only (exact: tantivy skips the others
    /// while collecting, so the best `k` of them come back however rare they are).
    pub fn search_where(
        &self,
        text: &str,
        k: usize,
        keep: impl Fn(u64) -> bool + Send + Sync + Clone + 'static,
    ) -> Result<Vec<(u64, f32)>> {
        self.collect(text, k, Some(keep))
    }

    /// In one pass over the postings: the best `k_all` rows, and the best `k_kept` of the rows
    /// `keep` accepts (a filtered search and its unfiltered facets at the cost of one).
    pub fn search_split(
        &self,
        text: &str,
        k_all: usize,
        k_kept: usize,
        keep: impl Fn(u64) -> bool + Send + Sync + Clone + 'static,
    ) -> Result<(RowHits, RowHits)> {
        if text.trim().is_empty() {
            return Err(IndexError::EmptyQuery);
        }
        if k_all == 0 || k_kept == 0 || terms(text).is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let searcher = self.reader.searcher();
        let query = self.query(text);
        let all = TopDocs::with_limit(k_all).order_by_score();
        let kept = FilterCollector::new(
            "row".into(),
            keep,
            TopDocs::with_limit(k_kept).order_by_score(),
        );
        let (all, kept) = searcher.search(&*query, &(all, kept))?;
        Ok((rows_of(&searcher, all)?, rows_of(&searcher, kept)?))
    }

    /// This index's BM25 statistics for the terms of `text`: its document and token counts and
    /// each term's document frequency (what a sharded search sums over its shards).
    pub fn stats(&self, text: &str) -> Result<LexicalStats> {
        let searcher = self.reader.searcher();
        let mut doc_freq = std::collections::BTreeMap::new();
        for t in terms(text) {
            let df = searcher.doc_freq(&Term::from_field_text(self.body, &t))?;
            doc_freq.insert(t, df);
        }
        Ok(LexicalStats {
            docs: Bm25StatisticsProvider::total_num_docs(&searcher)?,
            tokens: Bm25StatisticsProvider::total_num_tokens(&searcher, self.body)?,
            doc_freq,
        })
    }

    /// [`Lexical::search`] with BM25's idf and average length taken from `stats` (a whole
    /// corpus's, summed over its shards) instead of this index's own, so that the scores are
    /// the ones a single index over the whole corpus gives.
    pub fn search_with_stats(
        &self,
        text: &str,
        k: usize,
        stats: &LexicalStats,
    ) -> Result<Vec<(u64, f32)>> {
        if text.trim().is_empty() {
            return Err(IndexError::EmptyQuery);
        }
        if k == 0 || terms(text).is_empty() {
            return Ok(Vec::new());
        }
        let local = self.stats(text)?;
        stats.check_covers(&local)?;
        let searcher = self.reader.searcher();
        let query = self.query(text);
        let best = TopDocs::with_limit(k).order_by_score();
        let top = searcher.search_with_statistics_provider(&*query, &best, &Global(stats))?;
        rows_of(&searcher, top)
    }

    fn collect(
        &self,
        text: &str,
        k: usize,
        keep: Option<impl Fn(u64) -> bool + Send + Sync + Clone + 'static>,
    ) -> Result<Vec<(u64, f32)>> {
        if text.trim().is_empty() {
            return Err(IndexError::EmptyQuery);
        }
        if k == 0 || terms(text).is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let query = self.query(text);
        let best = TopDocs::with_limit(k).order_by_score();
        let top = match keep {
            None => searcher.search(&*query, &best)?,
            Some(f) => searcher.search(&*query, &FilterCollector::new("row".into(), f, best))?,
        };
        rows_of(&searcher, top)
    }

    /// Stored row of a document (for consistency checks).
    pub fn rows(&self) -> Result<Vec<u64>> {
        let searcher = self.reader.searcher();
        let mut rows = Vec::new();
        for segment in searcher.segment_readers() {
            let col = segment.fast_fields().u64("row")?;
            for doc in 0..segment.max_doc() {
                if !segment.is_deleted(doc) {
                    if let Some(r) = col.first(doc) {
                        rows.push(r);
                    }
                }
            }
        }
        rows.sort_unstable();
        Ok(rows)
    }
}
