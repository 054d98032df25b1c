//! Community detection as sentence-transformers' `community_detection`: every point whose
//! neighbourhood (cosine ≥ threshold) holds at least `min_size` points proposes that
//! neighbourhood; proposals are taken largest first, each keeping only points not yet taken,
//! and kept while still `min_size` large. Points in no community are noise.
//!
//! Similarities are computed a block of rows at a time and only neighbour lists of proposing
//! points are kept, so memory grows with the number of close pairs, never with n².

use rayon::prelude::*;

use crate::vectors::{gemm_xyt, normalize_rows, BLOCK};
use crate::{ClusterError, Result};

/// Labels per point (`None` for noise); communities are numbered largest first.
pub fn communities(
    values: &[f32],
    dim: usize,
    threshold: f32,
    min_size: usize,
) -> Result<Vec<Option<usize>>> {
    let n = values.len() / dim.max(1);
    if n == 0 {
        return Err(ClusterError::Empty);
    }
    if min_size == 0 {
        return Err(ClusterError::Invalid(
            "minimum community size must be ≥ 1".into(),
        ));
    }
    let unit = normalize_rows(values, dim);
    let mut proposals: Vec<(usize, Vec<(u32, f32)>)> = unit
        .par_chunks(BLOCK * dim)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            let rows = block.len() / dim;
            let mut sims = vec![0f32; rows * n];
            gemm_xyt(&mut sims, block, &unit, n, dim);
            let mut out = Vec::new();
            for r in 0..rows {
                let row = &sims[r * n..(r + 1) * n];
                if row.iter().filter(|&&s| s >= threshold).count() < min_size {
                    continue;
                }
                let mut members: Vec<(u32, f32)> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| s >= threshold)
                    .map(|(j, &s)| (j as u32, s))
                    .collect();
                members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                out.push((b * BLOCK + r, members));
            }
            out
        })
        .collect();
    proposals.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut labels: Vec<Option<usize>> = vec![None; n];
    let mut next = 0;
    for (_, members) in proposals {
        let free: Vec<usize> = members
            .iter()
            .map(|&(j, _)| j as usize)
            .filter(|&j| labels[j].is_none())
            .collect();
        if free.len() >= min_size {
            for j in free {
                labels[j] = Some(next);
            }
            next += 1;
        }
    }
    Ok(labels)
}
