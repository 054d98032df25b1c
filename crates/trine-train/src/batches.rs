//! How an epoch's rows are grouped into batches; every grouping is a function of the seed and
//! the epoch, so a resumed run sees the same batches.
//!
//! * [`no_duplicates`]: shuffled triplets, with no query and no document twice in a batch (as
//!   sentence-transformers' `NoDuplicatesBatchSampler`): a repeated text would be its own row's
//!   in-batch negative, or nobody's.
//! * [`per_class`]: P classes × K texts per batch (Hermans et al. 2017), so that every text has
//!   in-batch positives and negatives for the mining and proxy losses.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use trine_kernels::seed::mix;

fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ mix(epoch as u64)))
}

/// `ceil(rows / batch_size)` batches from a seeded shuffle, where no two rows of a batch share a
/// key (`keys(row)` lists a row's query and documents) whenever that can be arranged: a row
/// that clashes waits for a later batch, and only rows that clash with every batch are placed
/// where there is room. The count is fixed, so an epoch always has the same number of steps.
pub fn no_duplicates(
    rows: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
    keys: impl Fn(usize) -> [u32; 3],
) -> Vec<Vec<usize>> {
    let target = rows.div_ceil(batch_size);
    let mut remaining: Vec<usize> = (0..rows).collect();
    remaining.shuffle(&mut epoch_rng(seed, epoch));
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(target);
    while !remaining.is_empty() && batches.len() < target {
        let mut batch = Vec::with_capacity(batch_size);
        let mut seen: HashSet<u32> = HashSet::new();
        let mut rest = Vec::with_capacity(remaining.len());
        for r in remaining {
            let k = keys(r);
            if batch.len() < batch_size && k.iter().all(|x| !seen.contains(x)) {
                seen.extend(k);
                batch.push(r);
            } else {
                rest.push(r);
            }
        }
        batches.push(batch);
        remaining = rest;
    }
    for r in remaining {
        let b = batches
            .iter_mut()
            .rev()
            .find(|b| b.len() < batch_size)
            .expect("target batches hold every row");
        b.push(r);
    }
    batches
}

/// `ceil(rows / (p·k))` batches of `p` distinct classes × `k` texts each (fewer classes when
/// there are fewer than `p`). Each class's texts are taken in a shuffled cycle, reshuffled when
/// it runs out, so every text is seen about once per epoch in balanced data.
pub fn per_class(labels: &[u32], p: usize, k: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        members[l as usize].push(i);
    }
    let mut rng = epoch_rng(seed, epoch);
    for m in &mut members {
        m.shuffle(&mut rng);
    }
    let mut cursor = vec![0usize; classes];
    let mut available: Vec<usize> = (0..classes).filter(|&c| !members[c].is_empty()).collect();
    let p = p.min(available.len()).max(1);
    let count = labels.len().div_ceil(p * k);
    (0..count)
        .map(|_| {
            available.shuffle(&mut rng);
            let mut batch = Vec::with_capacity(p * k);
            for &c in &available[..p] {
                for _ in 0..k {
                    if cursor[c] == members[c].len() {
                        members[c].shuffle(&mut rng);
                        cursor[c] = 0;
                    }
                    batch.push(members[c][cursor[c]]);
                    cursor[c] += 1;
                }
            }
            batch
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_batch_repeats_a_key_and_every_row_is_used_once() {
        // 12 rows over 4 queries (3 rows each), documents distinct.
        let keys = |r: usize| [(r % 4) as u32, 100 + r as u32, 200 + r as u32];
        let batches = no_duplicates(12, 4, 3, 0, keys);
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
        for b in &batches {
            let queries: HashSet<usize> = b.iter().map(|r| r % 4).collect();
            assert_eq!(queries.len(), b.len(), "a query twice in {b:?}");
        }
        assert_eq!(batches.len(), 3);
        assert_eq!(batches, no_duplicates(12, 4, 3, 0, keys));
        // One query only: clashes cannot be avoided, yet the count stays ceil(5 / 2).
        let one = no_duplicates(5, 2, 3, 0, |r| [0, 10 + r as u32, 20 + r as u32]);
        assert_eq!(one.len(), 3);
        assert_eq!(one.iter().map(Vec::len).sum::<usize>(), 5);
        assert_ne!(batches, no_duplicates(12, 4, 3, 1, keys));
    }

    #[test]
    fn per_class_batches_hold_p_classes_of_k() {
        let labels: Vec<u32> = (0..40).map(|i| (i % 5) as u32).collect();
        let batches = per_class(&labels, 3, 2, 9, 0);
        assert_eq!(batches.len(), 7); // ceil(40 / 6)
        for b in &batches {
            assert_eq!(b.len(), 6);
            let mut counts = std::collections::HashMap::new();
            for &r in b {
                *counts.entry(labels[r]).or_insert(0) += 1;
            }
            assert_eq!(counts.len(), 3);
            assert!(counts.values().all(|&c| c == 2));
        }
        // Every text of a class is used before any is used again.
        let firsts: Vec<usize> = batches
            .iter()
            .flatten()
            .copied()
            .filter(|&r| labels[r] == 0)
            .take(8)
            .collect();
        let unique: HashSet<usize> = firsts.iter().copied().collect();
        assert_eq!(unique.len(), firsts.len());
    }
}
