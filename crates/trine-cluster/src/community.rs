//! Community detection as sentence-transformers' `community_detection`: every point whose
//! neighbourhood (cosine ≥ threshold) holds at least `min_size` points proposes that
//! neighbourhood; proposals are taken largest first, each keeping only points not yet taken,
//! and kept while still `min_size` large. Points in no community are noise.
//!
//! Two passes keep memory linear in n: the first counts each point's neighbours a block of rows
//! at a time (one matrix product per block); the second recomputes the neighbourhood of each
//! proposing point, largest first, when its turn comes. No crate implements this algorithm;
//! it is written here on the same blockwise products as k-means.

use rayon::prelude::*;

use crate::vectors::{dot, gemm_xyt, normalize_rows, BLOCK};
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
    let counts: Vec<usize> = unit
        .par_chunks(BLOCK * dim)
        .flat_map_iter(|block| {
            let rows = block.len() / dim;
            let mut sims = vec![0f32; rows * n];
            gemm_xyt(&mut sims, block, &unit, n, dim);
            sims.chunks_exact(n)
                .map(|row| row.iter().filter(|&&s| s >= threshold).count())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut proposers: Vec<usize> = (0..n).filter(|&i| counts[i] >= min_size).collect();
    proposers.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let mut labels: Vec<Option<usize>> = vec![None; n];
    let mut next = 0;
    for centre in proposers {
        let c = &unit[centre * dim..(centre + 1) * dim];
        let free: Vec<usize> = unit
            .par_chunks(dim)
            .enumerate()
            .filter(|(j, row)| labels[*j].is_none() && dot(c, row) >= threshold)
            .map(|(j, _)| j)
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
