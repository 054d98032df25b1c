//! `trine index build|add|delete|info|cluster`.

use std::time::Instant;

use trine_corpus::read_corpus;
use trine_index::{AddPolicy, Index};
use trine_pipeline::shards::build_shards;
use trine_pipeline::{build_index, index_vectors, BuildSpec};

use super::{cluster, shared};
use crate::cli::{Cli, IndexCommand};
use crate::{data_root, progress};

pub fn run(cli: &Cli, cmd: &IndexCommand) -> anyhow::Result<()> {
    match cmd {
        IndexCommand::Build(a) => {
            let input = data_root::resolve(&cli.data_root, &a.corpus);
            let docs = read_corpus(&input, &shared::corpus_options(&a.corpus_args))?;
            let _lock = shared::writer_lock(&a.out, &a.write)?;
            let encoder = shared::load_encoder(&a.model)?;
            let start = Instant::now();
            let (ann, ann_settings) = shared::ann_options(&a.ann);
            let spec = BuildSpec {
                force: a.force,
                embeddings: a.embeddings.clone(),
                chunking: shared::chunk_settings(&a.chunks),
                ann,
                ann_settings,
                quantized: shared::quantized_options(&a.vectors),
            };
            if let Some(n) = a.shards {
                let set = build_shards(
                    &a.out,
                    &docs,
                    &encoder,
                    &spec,
                    n as usize,
                    &progress::Bars::default(),
                )?;
                let sizes: Vec<String> =
                    set.shards.iter().map(|s| s.documents.to_string()).collect();
                eprintln!(
                    "indexed {} documents into {} shards in {} ({} documents) in {:.1} s",
                    docs.len(),
                    set.shards.len(),
                    a.out.display(),
                    sizes.join(" + "),
                    start.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            let index = build_index(&a.out, &docs, &encoder, &spec, &progress::Bars::default())?;
            eprintln!(
                "indexed {} documents into {} in {:.1} s ({} MiB)",
                index.len(),
                a.out.display(),
                start.elapsed().as_secs_f64(),
                index.size_bytes() / (1 << 20)
            );
        }
        IndexCommand::Add(a) => {
            let input = data_root::resolve(&cli.data_root, &a.corpus);
            let docs = read_corpus(&input, &shared::corpus_options(&a.corpus_args))?;
            let _lock = shared::writer_lock(&a.index, &a.write)?;
            let encoder = shared::load_encoder(&a.model)?;
            let model = trine_pipeline::model_info(&encoder)?;
            let current = Index::open(&a.index)?;
            current.check_model(&model)?;
            let chunking = current.manifest().chunking;
            drop(current);
            // Split as the index's documents were (its manifest records how).
            let (values, chunks) =
                index_vectors(&encoder, &docs, chunking, None, &progress::Bars::default())?;
            let policy = if a.replace {
                AddPolicy::Replace
            } else {
                AddPolicy::Reject
            };
            let index =
                Index::add_chunked(&a.index, &docs, &values, chunks.as_ref(), &model, policy)?;
            eprintln!(
                "added {} documents; the index now has {}",
                docs.len(),
                index.len()
            );
            if let Some(t) = index.topics() {
                let drifted = t.drifted();
                if !drifted.is_empty() {
                    eprintln!(
                        "topics {} have drifted since they were made (generation {}): re-clustering \
                         is due (`trine index cluster {}`)",
                        drifted.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
                        t.clustered_at,
                        a.index.display()
                    );
                }
            }
        }
        IndexCommand::Delete(a) => {
            let _lock = shared::writer_lock(&a.index, &a.write)?;
            let (index, removed) = Index::delete(&a.index, &a.ids)?;
            eprintln!(
                "deleted {removed} documents; the index now has {}",
                index.len()
            );
        }
        IndexCommand::Cluster(a) => {
            let _lock = shared::writer_lock(&a.index, &a.write)?;
            let options = trine_cluster::topics::TopicOptions {
                algorithm: cluster::algorithm(&a.algorithm),
                keywords: a.keywords as usize,
                representatives: a.representatives,
                levels: a.levels.clone(),
                map: cluster::map_choice(&a.map),
            };
            let start = Instant::now();
            let layout = options.map.layout(a.algorithm.k);
            let (bar, mut report) = cluster::layout_bar(layout);
            let index = trine_cluster::topics::cluster_index(&a.index, &options, &mut report)?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let t = index.require_topics()?;
            eprintln!(
                "{} topics over {} documents in {:.1} s, stored as generation {}",
                t.len(),
                index.len(),
                start.elapsed().as_secs_f64(),
                index.manifest().generation
            );
            print!("{}", topic_table(t));
        }
        IndexCommand::Info(a) => {
            let index = Index::open(&a.index)?;
            let m = index.manifest();
            if a.json {
                println!("{}", serde_json::to_string_pretty(m)?);
            } else {
                println!("index        {}", a.index.display());
                println!(
                    "format       v{} (generation {})",
                    m.format_version, m.generation
                );
                println!("documents    {}", m.documents);
                println!(
                    "model        {} (dim {}, fingerprint {})",
                    m.model.name,
                    m.model.dim,
                    &m.model.fingerprint[..m.model.fingerprint.len().min(16)]
                );
                println!(
                    "lexical      {} over {}; BM25 k1={} b={}",
                    m.lexical.tokenizer,
                    m.lexical.fields.join("+"),
                    m.lexical.bm25_k1,
                    m.lexical.bm25_b
                );
                println!("fusion       {} (default for hybrid search)", m.fusion);
                match &m.ann {
                    Some(s) => println!(
                        "dense        HNSW (USearch): M={} ef_construction={} ef_search={} {:?} vectors",
                        s.connectivity, s.expansion_add, s.expansion_search, s.quantization
                    ),
                    None => println!("dense        exact scan (no ANN graph)"),
                }
                if let (Some(s), Some(c)) = (&m.chunking, index.chunks()) {
                    println!(
                        "chunks       {} ({} tokens each at most, {} overlapping; score {:?})",
                        c.len(),
                        s.tokens,
                        s.overlap,
                        s.aggregate
                    );
                }
                println!(
                    "size         {:.1} MiB",
                    index.size_bytes() as f64 / (1u64 << 20) as f64
                );
                match index.topics() {
                    Some(t) => {
                        println!(
                            "topics       {} by {} (generation {})",
                            t.len(),
                            t.method,
                            t.clustered_at
                        );
                        print!("{}", topic_table(t));
                    }
                    None => println!("topics       none (`trine index cluster` makes them)"),
                }
            }
        }
    }
    Ok(())
}

/// Topics as a table: number, size now, what was added since, keywords; drifted ones marked.
fn topic_table(t: &trine_index::Topics) -> String {
    let sizes = t.sizes();
    let mut out = format!("{:>6}  {:>6}  {:>6}  keywords\n", "topic", "size", "added");
    for topic in &t.topics {
        let mark = if topic.drifted() { "  (drifted)" } else { "" };
        out.push_str(&format!(
            "{:>6}  {:>6}  {:>6}  {}{mark}\n",
            topic.id,
            sizes[topic.id],
            topic.added,
            topic
                .keywords
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if t.noise() > 0 {
        out.push_str(&format!(
            "{:>6}  {:>6}  {:>6}  (in no topic)\n",
            "noise",
            t.noise(),
            ""
        ));
    }
    for (li, level) in t.levels.iter().enumerate() {
        out.push_str(&format!("level of {} groups:\n", level.groups));
        for (g, words) in level.keywords.iter().enumerate() {
            let members: Vec<String> = t
                .topics
                .iter()
                .filter(|x| x.parents.get(li) == Some(&g))
                .map(|x| x.id.to_string())
                .collect();
            out.push_str(&format!(
                "{:>6}  topics {:<20}  {}\n",
                g,
                members.join(","),
                words.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    out
}
