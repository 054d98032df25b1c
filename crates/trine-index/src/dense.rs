//! Dense vectors: the raw f32 file and exact (brute-force) cosine search over it.
//!
//! Exact search is the reference that approximate search is measured against: a multithreaded
//! scan of unit vectors with a lane-parallel dot product.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use memmap2::Mmap;
use rayon::prelude::*;
use trine_eval::exact::{dot, normalized};

use crate::{IndexError, Result};

/// Writes vectors (normalised to unit length) as little-endian f32.
pub fn write_vectors(path: &Path, values: &[f32], dim: usize) -> Result<()> {
    let unit = normalized(values, dim);
    trine_corpus::atomic::write_file(path, |w| {
        for v in &unit {
            w.write_all(&v.to_le_bytes())
                .map_err(|e| trine_corpus::CorpusError::io(path, e))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Memory-mapped unit vectors.
pub struct Vectors {
    map: Mmap,
    dim: usize,
}

impl Vectors {
    /// Maps `path`, checking that it holds exactly `rows × dim` floats.
    pub fn open(path: &Path, rows: usize, dim: usize) -> Result<Self> {
        let file = File::open(path).map_err(|e| IndexError::Missing {
            path: path.to_path_buf(),
            message: format!("vectors file: {e}"),
        })?;
        // SAFETY: index files are never modified in place (every change writes a new
        // generation), so the mapping stays valid while it is open.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| IndexError::io(path, e))?;
        let want = rows * dim * 4;
        if map.len() != want {
            return Err(IndexError::Corrupt {
                path: path.to_path_buf(),
                message: format!(
                    "vectors file has {} bytes, expected {want} ({rows} vectors × {dim} dims)",
                    map.len()
                ),
            });
        }
        if !(map.as_ptr() as usize).is_multiple_of(4) {
            return Err(IndexError::Corrupt {
                path: path.to_path_buf(),
                message: "vectors mapping is not 4-byte aligned".into(),
            });
        }
        Ok(Vectors { map, dim })
    }

    /// All vectors as one row-major slice.
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: length checked to be a multiple of 4 and the mapping is page-aligned; every bit
        // pattern is a valid f32 (on little-endian targets, which is what the file stores).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const f32, self.map.len() / 4) }
    }

    /// Vector of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.as_slice()[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.map.len() / 4 / self.dim.max(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Cosine similarity of a unit query with row `i`.
    pub fn score(&self, query: &[f32], i: usize) -> f32 {
        dot(query, self.row(i))
    }

    /// The `k` rows most similar to the unit `query`, as `(row, score)`; equal scores are ordered
    /// by `tie(row)` ascending (the caller passes document ids).
    pub fn search<T: Ord + Sync>(
        &self,
        query: &[f32],
        k: usize,
        tie: impl Fn(usize) -> T + Sync,
    ) -> Vec<(usize, f32)> {
        top_k(self.as_slice(), self.dim, query, k, tie)
    }
}

/// The exact scan: the `k` rows of the row-major unit `vectors` most similar to the unit
/// `query`, as `(row, score)`, equal scores ordered by `tie(row)` ascending. Multithreaded over
/// blocks of rows, each keeping its own top k.
pub fn top_k<T: Ord + Sync>(
    vectors: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
    tie: impl Fn(usize) -> T + Sync,
) -> Vec<(usize, f32)> {
    let n = vectors.len() / dim.max(1);
    top_by(n, k, |i| dot(query, &vectors[i * dim..(i + 1) * dim]), tie)
}

/// The `k` of rows `0..n` with the highest `score(row)`, as `(row, score)`, equal scores ordered
/// by `tie(row)` ascending. Multithreaded over blocks of rows, each keeping its own top k.
pub fn top_by<T: Ord + Sync>(
    n: usize,
    k: usize,
    score: impl Fn(usize) -> f32 + Sync,
    tie: impl Fn(usize) -> T + Sync,
) -> Vec<(usize, f32)> {
    const BLOCK: usize = 4096;
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let better = |a: &(usize, f32), b: &(usize, f32)| {
        b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(&tie(b.0)))
    };
    let mut best: Vec<(usize, f32)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|blk| {
            let start = blk * BLOCK;
            let end = (start + BLOCK).min(n);
            let mut scored: Vec<(usize, f32)> = (start..end).map(|i| (i, score(i))).collect();
            if scored.len() > k {
                scored.select_nth_unstable_by(k - 1, better);
                scored.truncate(k);
            }
            scored
        })
        .collect();
    if best.len() > k {
        best.select_nth_unstable_by(k - 1, better);
        best.truncate(k);
    }
    best.sort_by(better);
    best
}

/// Unit-length copy of one vector.
pub fn unit(v: &[f32]) -> Vec<f32> {
    normalized(v, v.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_search_over_mapped_vectors_with_tie_rule() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.f32");
        // rows: 0 and 2 point the same way (tie), 1 orthogonal, 3 opposite
        write_vectors(&p, &[2.0, 0.0, 0.0, 1.0, 5.0, 0.0, -1.0, 0.0], 2).unwrap();
        let v = Vectors::open(&p, 4, 2).unwrap();
        let ids = ["d9", "d1", "d3", "d0"];
        let hits = v.search(&unit(&[1.0, 0.0]), 3, |i| ids[i]);
        assert_eq!(hits, vec![(2, 1.0), (0, 1.0), (1, 0.0)]);
        assert!(
            Vectors::open(&p, 5, 2).is_err(),
            "size mismatch must be caught"
        );
    }
}
