//! Development sets: what checkpoints are chosen on, never the test split.
//!
//! * [`DevSet`]: judged queries ranked by exact dense search among documents: a split of its own
//!   (`qrels/dev.tsv`) over the whole corpus, or queries held out of the training split with
//!   their judged documents and a sample of the rest (embedding a large corpus at every
//!   evaluation would cost more than training).
//! * [`LabelledDev`]: texts with class labels held out of a labelled collection, scored by how
//!   well spherical k-means (k = number of classes) recovers the classes (V-measure).

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use trine_corpus::beir::{Qrels, Query, Split};
use trine_corpus::triplets::Triplet;
use trine_corpus::Document;
use trine_encoder::{Encoder, Role};
use trine_eval::{evaluate, Hit, Run};

use crate::data::{class_ids, LabelledText};
use crate::{Result, TrainError};

/// A held-out evaluation the trainer runs every few steps.
pub trait Dev: Sync {
    /// Name of the metric checkpoints are chosen by (higher is better).
    fn metric(&self) -> &'static str;
    /// Every metric of `encoder` on the set, by name (including [`Dev::metric`]).
    fn evaluate(&self, encoder: &Encoder) -> Result<BTreeMap<String, f64>>;
    /// Training rows that belong to the dev set (the trainer refuses to start when there are
    /// any: a model chosen on data it trained on would be chosen blind).
    fn overlap(&self, _data: &crate::data::TrainData) -> usize {
        0
    }
}

/// Held-out queries with their judgements and the documents they are ranked among.
#[derive(Debug, Clone)]
pub struct DevSet {
    pub queries: Vec<Query>,
    pub qrels: Qrels,
    pub docs: Vec<Document>,
}

/// How many queries (with their judged documents and `extra_docs` others) to hold out of a
/// training split when there is no dev split.
#[derive(Debug, Clone, Copy)]
pub struct HoldOut {
    pub queries: usize,
    pub extra_docs: usize,
    pub seed: u64,
}

/// Depth of the ranking each dev query gets.
const DEPTH: usize = 100;

impl DevSet {
    /// A split of its own over the whole corpus. Judged documents missing from the corpus are
    /// dropped; a split none of whose judged documents is in the corpus is an error (`source`
    /// names the qrels file).
    pub fn whole(split: &Split, corpus: &[Document], source: &str) -> Result<DevSet> {
        let ids: HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
        let mut qrels = Qrels::new();
        for (q, rels) in &split.qrels {
            let kept: std::collections::HashMap<String, i32> = rels
                .iter()
                .filter(|(d, _)| ids.contains(d.as_str()))
                .map(|(d, &g)| (d.clone(), g))
                .collect();
            if kept.values().any(|&g| g > 0) {
                qrels.insert(q.clone(), kept);
            }
        }
        if qrels.is_empty() {
            return Err(TrainError::Data(format!(
                "{source}: no judged document of the dev split is in the corpus ({} queries, \
                 {} judgements); is it the qrels of another dataset?",
                split.queries.len(),
                split.qrels.values().map(|r| r.len()).sum::<usize>()
            )));
        }
        let queries = split
            .queries
            .iter()
            .filter(|q| qrels.contains_key(&q.id))
            .cloned()
            .collect();
        Ok(DevSet {
            queries,
            qrels,
            docs: corpus.to_vec(),
        })
    }

    /// Holds out `queries` queries of `split` (chosen with `seed`), with every judged document and
    /// `extra_docs` other documents of `corpus` sampled with the same seed.
    pub fn hold_out(
        split: &Split,
        corpus: &[Document],
        queries: usize,
        extra_docs: usize,
        seed: u64,
    ) -> Result<DevSet> {
        if queries == 0 || queries >= split.queries.len() {
            return Err(TrainError::Settings(format!(
                "cannot hold out {queries} of the split's {} queries as a dev set",
                split.queries.len()
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0def_05e7);
        let mut chosen = split.queries.clone();
        chosen.shuffle(&mut rng);
        chosen.truncate(queries);
        chosen.sort_by(|a, b| a.id.cmp(&b.id));
        let qrels: Qrels = chosen
            .iter()
            .map(|q| (q.id.clone(), split.qrels[&q.id].clone()))
            .collect();
        let judged: HashSet<&str> = qrels
            .values()
            .flat_map(|r| r.keys())
            .map(String::as_str)
            .collect();
        let mut others: Vec<usize> = (0..corpus.len())
            .filter(|&i| !judged.contains(corpus[i].id.as_str()))
            .collect();
        others.shuffle(&mut rng);
        others.truncate(extra_docs);
        let keep: HashSet<usize> = others.into_iter().collect();
        let docs = corpus
            .iter()
            .enumerate()
            .filter(|(i, d)| keep.contains(i) || judged.contains(d.id.as_str()))
            .map(|(_, d)| d.clone())
            .collect();
        Ok(DevSet {
            queries: chosen,
            qrels,
            docs,
        })
    }

    /// The dev set of a BEIR folder for training on `train` (the `train_split` of `root`): the
    /// `dev_split` whole over the whole corpus when it is another split with a qrels file, else
    /// queries held out of `train` ([`HoldOut`]). Returns the set, whether it was held out of
    /// `train` (its rows must then leave the training data: [`DevSet::remove_from`]) and a line
    /// saying where it came from.
    pub fn for_training(
        root: &std::path::Path,
        corpus: &[Document],
        train: &Split,
        train_split: &str,
        dev_split: &str,
        hold: HoldOut,
    ) -> Result<(DevSet, bool, String)> {
        let paths = trine_corpus::beir::BeirPaths::new(root);
        let dev_path = paths.qrels(dev_split);
        if dev_split != train_split && dev_path.is_file() {
            let split = trine_corpus::beir::load_split(root, dev_split)?;
            let dev = DevSet::whole(&split, corpus, &dev_path.display().to_string())?;
            let text = format!(
                "{} ({} queries, the whole corpus of {} documents)",
                dev_path.display(),
                dev.queries.len(),
                corpus.len()
            );
            return Ok((dev, false, text));
        }
        let dev = DevSet::hold_out(train, corpus, hold.queries, hold.extra_docs, hold.seed)?;
        let why = if dev_split == train_split {
            String::new()
        } else {
            format!(" (no {})", dev_path.display())
        };
        let text = format!(
            "{} queries held out of {}{why}, ranked during training among their judged documents \
             and {} others",
            dev.queries.len(),
            paths.qrels(train_split).display(),
            hold.extra_docs
        );
        Ok((dev, true, text))
    }

    /// The dev set of `trine train --eval-data ROOT` (see [`DevSet::for_training`]), with the
    /// training rows of its queries removed from `triplets`; returns the set, how many rows
    /// were removed and a line saying where the set came from.
    pub fn for_triplets(
        root: &std::path::Path,
        train_split: &str,
        dev_split: &str,
        hold: HoldOut,
        triplets: &mut Vec<Triplet>,
    ) -> Result<(DevSet, usize, String)> {
        let paths = trine_corpus::beir::BeirPaths::new(root);
        let corpus =
            trine_corpus::read_corpus(&paths.corpus(), &trine_corpus::CorpusOptions::default())?;
        let train = trine_corpus::beir::load_split(root, train_split)?;
        let (dev, _, text) =
            DevSet::for_training(root, &corpus, &train, train_split, dev_split, hold)?;
        let dropped = dev.remove_from(triplets);
        Ok((dev, dropped, text))
    }

    /// Writes the set's judgements in BEIR's qrels format (atomically), so that later steps
    /// (fusion tuning) can use the same held-out queries.
    pub fn write_qrels(&self, path: &std::path::Path) -> Result<()> {
        use std::io::Write;
        trine_corpus::atomic::write_file(path, |w| {
            let io = |e| trine_corpus::CorpusError::io(path, e);
            writeln!(w, "query-id\tcorpus-id\tscore").map_err(io)?;
            for (q, rels) in &self.qrels {
                let mut docs: Vec<_> = rels.iter().collect();
                docs.sort();
                for (d, g) in docs {
                    writeln!(w, "{q}\t{d}\t{g}").map_err(io)?;
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Ids of the held-out queries (their training rows must be dropped).
    pub fn query_ids(&self) -> HashSet<&str> {
        self.queries.iter().map(|q| q.id.as_str()).collect()
    }

    /// Removes the training rows of the held-out queries (by `query_id`, or by query text for
    /// rows without one), so that no dev query is trained on; returns how many were removed.
    pub fn remove_from(&self, triplets: &mut Vec<Triplet>) -> usize {
        let before = triplets.len();
        let held = self.holds();
        triplets.retain(|t| !held(t));
        before - triplets.len()
    }

    /// Whether a training row is one of the held-out queries' (by `query_id`, else by text).
    fn holds(&self) -> impl Fn(&Triplet) -> bool + '_ {
        let ids = self.query_ids();
        let texts: HashSet<&str> = self.queries.iter().map(|q| q.text.as_str()).collect();
        move |t: &Triplet| match &t.query_id {
            Some(id) => ids.contains(id.as_str()),
            None => texts.contains(t.query.as_str()),
        }
    }

    /// The split without the held-out queries (what mining may use).
    pub fn remove_from_split(&self, split: &Split) -> Split {
        let ids = self.query_ids();
        Split {
            queries: split
                .queries
                .iter()
                .filter(|q| !ids.contains(q.id.as_str()))
                .cloned()
                .collect(),
            qrels: split
                .qrels
                .iter()
                .filter(|(q, _)| !ids.contains(q.as_str()))
                .map(|(q, r)| (q.clone(), r.clone()))
                .collect(),
        }
    }

    /// Dense retrieval run of `encoder` on this set (exact cosine, ties by document id).
    pub fn run(&self, encoder: &Encoder) -> Result<Run> {
        let dim = encoder.dim();
        let doc_texts: Vec<String> = self.docs.iter().map(Document::full_text).collect();
        let doc_refs: Vec<&str> = doc_texts.iter().map(String::as_str).collect();
        let docs = encoder.encode_as(&doc_refs, Role::Document, &mut |_| {})?;
        let docs = trine_eval::exact::normalized(&docs, dim);
        let q_refs: Vec<&str> = self.queries.iter().map(|q| q.text.as_str()).collect();
        let qs = encoder.encode_as(&q_refs, Role::Query, &mut |_| {})?;
        let qs = trine_eval::exact::normalized(&qs, dim);
        let tie = |row: usize| self.docs[row].id.as_str();
        Ok(self
            .queries
            .iter()
            .zip(qs.chunks_exact(dim))
            .map(|(q, qv)| {
                let hits = trine_index::dense::top_k(&docs, dim, qv, DEPTH, tie)
                    .into_iter()
                    .map(|(row, score)| Hit {
                        doc_id: self.docs[row].id.clone(),
                        score,
                    })
                    .collect();
                (q.id.clone(), hits)
            })
            .collect())
    }
}

impl Dev for DevSet {
    fn metric(&self) -> &'static str {
        "ndcg@10"
    }

    fn overlap(&self, data: &crate::data::TrainData) -> usize {
        match data {
            crate::data::TrainData::Triplets { rows, .. } => {
                let held = self.holds();
                rows.iter().filter(|t| held(t)).count()
            }
            crate::data::TrainData::Labelled { .. } => 0,
        }
    }

    fn evaluate(&self, encoder: &Encoder) -> Result<BTreeMap<String, f64>> {
        let m = evaluate(&self.run(encoder)?, &self.qrels).0;
        Ok(BTreeMap::from([
            ("ndcg@10".to_string(), m.ndcg_10),
            ("recall@100".to_string(), m.recall_100),
            ("mrr@10".to_string(), m.mrr_10),
        ]))
    }
}

/// Texts with class labels, scored by spherical k-means with k = number of classes.
#[derive(Debug, Clone)]
pub struct LabelledDev {
    pub rows: Vec<LabelledText>,
    /// k-means restarts per evaluation.
    pub n_init: usize,
    pub seed: u64,
}

impl LabelledDev {
    /// Splits `rows` into (train, dev): `fraction` of every class (at least one text of each)
    /// goes to dev, chosen with `seed`, so that the dev classes look like the training ones.
    pub fn hold_out(
        rows: Vec<LabelledText>,
        fraction: f64,
        seed: u64,
    ) -> Result<(Vec<LabelledText>, LabelledDev)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(TrainError::Settings(format!(
                "the dev fraction must be in (0, 1), got {fraction}"
            )));
        }
        let (labels, names) = class_ids(&rows);
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for (i, &l) in labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x1abe_11ed);
        let mut dev_rows = HashSet::new();
        for members in &mut by_class {
            members.shuffle(&mut rng);
            let n = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len());
            dev_rows.extend(members[..n].iter().copied());
        }
        let (mut train, mut dev) = (Vec::new(), Vec::new());
        for (i, r) in rows.into_iter().enumerate() {
            if dev_rows.contains(&i) {
                dev.push(r);
            } else {
                train.push(r);
            }
        }
        Ok((
            train,
            LabelledDev {
                rows: dev,
                n_init: 4,
                seed,
            },
        ))
    }
}

impl Dev for LabelledDev {
    fn metric(&self) -> &'static str {
        "v_measure"
    }

    fn evaluate(&self, encoder: &Encoder) -> Result<BTreeMap<String, f64>> {
        let texts: Vec<&str> = self.rows.iter().map(|r| r.text.as_str()).collect();
        let emb = encoder.encode(&texts, &mut |_| {})?;
        let (gold, names) = class_ids(&self.rows);
        let options = trine_cluster::KMeansOptions {
            k: names.len(),
            n_init: self.n_init,
            spherical: true,
            seed: self.seed,
            ..Default::default()
        };
        let km = trine_cluster::kmeans::kmeans(&emb, encoder.dim(), &options)?;
        let (homogeneity, completeness, v) = trine_cluster::metrics::v_measure(&gold, &km.labels)?;
        let ari = trine_cluster::metrics::ari(&gold, &km.labels)?;
        Ok(BTreeMap::from([
            ("v_measure".to_string(), v),
            ("homogeneity".to_string(), homogeneity),
            ("completeness".to_string(), completeness),
            ("ari".to_string(), ari),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_hold_out_is_stratified() {
        let rows: Vec<LabelledText> = (0..30)
            .map(|i| LabelledText {
                text: format!("t{i}"),
                label: if i < 20 { "a" } else { "b" }.into(),
            })
            .collect();
        let (train, dev) = LabelledDev::hold_out(rows, 0.1, 7).unwrap();
        let count = |rs: &[LabelledText], l: &str| rs.iter().filter(|r| r.label == l).count();
        assert_eq!((count(&dev.rows, "a"), count(&dev.rows, "b")), (2, 1));
        assert_eq!((count(&train, "a"), count(&train, "b")), (18, 9));
    }
}
