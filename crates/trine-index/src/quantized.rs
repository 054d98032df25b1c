//! Quantised copies of the unit vectors, kept in memory for a first pass whose best candidates
//! are rescored against the f32 vectors (memory-mapped, so on disk until read), as
//! sentence-transformers' `quantize_embeddings` with rescoring: int8 codes over per-dimension
//! ranges calibrated on the corpus (a quarter of f32's memory), or sign bits compared by Hamming
//! distance (a thirty-second).
//!
//! File (`vectors.q`, little-endian): magic `TRQV`, version u32, format u8, dim u32, rows u64;
//! int8: `lo[dim]` f32, `step[dim]` f32, `codes[rows × dim]` u8; binary: `bits[rows × words]` u64
//! with `words = ceil(dim / 64)`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dense::{top_by, Vectors};
use crate::{IndexError, Result};

const MAGIC: &[u8; 4] = b"TRQV";
const VERSION: u32 = 1;
const HEADER: usize = 4 + 4 + 1 + 4 + 8;

/// How an index keeps its vectors in memory for the first pass of dense search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorFormat {
    /// The f32 vectors alone: exact search, no second copy.
    #[default]
    F32,
    /// One byte per dimension over the corpus's range of that dimension.
    Int8,
    /// One bit per dimension (its sign).
    Binary,
}

impl VectorFormat {
    fn code(self) -> u8 {
        match self {
            VectorFormat::F32 => 0,
            VectorFormat::Int8 => 1,
            VectorFormat::Binary => 2,
        }
    }
}

/// What the manifest records of an index's quantised vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizedSettings {
    /// Int8 or binary.
    pub format: VectorFormat,
    /// Candidates of the quantised pass rescored in f32 (at least the `k` asked for).
    pub rescore: usize,
}

/// Quantised vectors: the first pass's scores, and the bytes they take.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantized {
    Int8 {
        dim: usize,
        /// Lowest value of each dimension over the calibration vectors.
        lo: Vec<f32>,
        /// Width of one of the 255 steps of each dimension's range.
        step: Vec<f32>,
        codes: Vec<u8>,
    },
    Binary {
        dim: usize,
        words: usize,
        bits: Vec<u64>,
    },
}

impl Quantized {
    /// Quantises row-major `vectors` (`dim` wide) in `format`; int8 ranges are calibrated on the
    /// same vectors. `None` for [`VectorFormat::F32`].
    pub fn build(format: VectorFormat, vectors: &[f32], dim: usize) -> Option<Self> {
        match format {
            VectorFormat::F32 => None,
            VectorFormat::Int8 => {
                let (lo, step) = calibrate(vectors, dim);
                Some(Self::int8_with(vectors, dim, lo, step))
            }
            VectorFormat::Binary => {
                let words = dim.div_ceil(64);
                let mut bits = vec![0u64; vectors.len() / dim.max(1) * words];
                for (row, v) in vectors.chunks_exact(dim).enumerate() {
                    for (d, x) in v.iter().enumerate() {
                        if *x > 0.0 {
                            bits[row * words + d / 64] |= 1 << (d % 64);
                        }
                    }
                }
                Some(Quantized::Binary { dim, words, bits })
            }
        }
    }

    /// Int8 codes of `vectors` over given ranges (values outside them are clamped): how rows
    /// added later are coded with the ranges calibrated at build.
    pub fn int8_with(vectors: &[f32], dim: usize, lo: Vec<f32>, step: Vec<f32>) -> Self {
        let codes = vectors
            .chunks_exact(dim)
            .flat_map(|v| {
                v.iter()
                    .zip(lo.iter().zip(&step))
                    .map(|(x, (l, s))| ((x - l) / s).round().clamp(0.0, 255.0) as u8)
            })
            .collect();
        Quantized::Int8 {
            dim,
            lo,
            step,
            codes,
        }
    }

    /// The format these vectors are in.
    pub fn format(&self) -> VectorFormat {
        match self {
            Quantized::Int8 { .. } => VectorFormat::Int8,
            Quantized::Binary { .. } => VectorFormat::Binary,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Quantized::Int8 { dim, codes, .. } => codes.len() / (*dim).max(1),
            Quantized::Binary { words, bits, .. } => bits.len() / (*words).max(1),
        }
    }

    /// Bytes of memory the codes (and int8's ranges) take.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Quantized::Int8 {
                lo, step, codes, ..
            } => codes.len() + 4 * (lo.len() + step.len()),
            Quantized::Binary { bits, .. } => 8 * bits.len(),
        }
    }

    /// The `n` rows whose quantised vectors score highest against the unit `query`, ties by
    /// `tie(row)` ascending: the candidates that rescoring reads in f32.
    pub fn candidates<T: Ord + Sync>(
        &self,
        query: &[f32],
        n: usize,
        tie: impl Fn(usize) -> T + Sync,
    ) -> Vec<usize> {
        let hits = match self {
            Quantized::Int8 {
                dim,
                lo,
                step,
                codes,
            } => {
                // q · (lo + step ⊙ c) = q · lo + (q ⊙ step) · c
                let offset: f32 = query.iter().zip(lo).map(|(q, l)| q * l).sum();
                let scaled: Vec<f32> = query.iter().zip(step).map(|(q, s)| q * s).collect();
                top_by(
                    self.rows(),
                    n,
                    |row| offset + dot_codes(&scaled, &codes[row * dim..(row + 1) * dim]),
                    tie,
                )
            }
            Quantized::Binary { dim, words, bits } => {
                let q = Quantized::build(VectorFormat::Binary, query, *dim);
                let Some(Quantized::Binary { bits: qb, .. }) = q else {
                    unreachable!("a binary build is binary")
                };
                top_by(
                    self.rows(),
                    n,
                    |row| -(hamming(&bits[row * words..(row + 1) * words], &qb) as f32),
                    tie,
                )
            }
        };
        hits.into_iter().map(|(row, _)| row).collect()
    }

    /// The `k` rows most similar to the unit `query`: the best `rescore` (at least `k`)
    /// candidates of the quantised pass, scored exactly against `vectors`, as `(row, cosine)`
    /// with ties by `tie(row)` ascending.
    pub fn search<T: Ord + Sync>(
        &self,
        vectors: &Vectors,
        query: &[f32],
        k: usize,
        rescore: usize,
        tie: impl Fn(usize) -> T + Sync,
    ) -> Vec<(usize, f32)> {
        let rows = self.candidates(query, rescore.max(k), &tie);
        let mut hits: Vec<(usize, f32)> = rows
            .into_iter()
            .map(|r| (r, vectors.score(query, r)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(&tie(b.0))));
        hits.truncate(k);
        hits
    }

    /// Writes the codes to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |e| trine_corpus::CorpusError::io(path, e);
        trine_corpus::atomic::write_file(path, |w| {
            let (dim, rows) = match self {
                Quantized::Int8 { dim, .. } | Quantized::Binary { dim, .. } => (*dim, self.rows()),
            };
            w.write_all(MAGIC).map_err(io)?;
            w.write_all(&VERSION.to_le_bytes()).map_err(io)?;
            w.write_all(&[self.format().code()]).map_err(io)?;
            w.write_all(&(dim as u32).to_le_bytes()).map_err(io)?;
            w.write_all(&(rows as u64).to_le_bytes()).map_err(io)?;
            match self {
                Quantized::Int8 {
                    lo, step, codes, ..
                } => {
                    for v in lo.iter().chain(step) {
                        w.write_all(&v.to_le_bytes()).map_err(io)?;
                    }
                    w.write_all(codes).map_err(io)?;
                }
                Quantized::Binary { bits, .. } => {
                    for b in bits {
                        w.write_all(&b.to_le_bytes()).map_err(io)?;
                    }
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Reads codes written by [`Quantized::write`] into memory, checking that they are in
    /// `format` and hold `rows × dim` values.
    pub fn read(path: &Path, format: VectorFormat, rows: usize, dim: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| IndexError::Missing {
            path: path.to_path_buf(),
            message: format!("quantised vectors: {e}"),
        })?;
        let corrupt = |message: String| IndexError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return Err(corrupt("not a trine quantised-vectors file".into()));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let version = u32_at(4);
        if version != VERSION {
            return Err(corrupt(format!(
                "format version {version}, expected {VERSION}"
            )));
        }
        let (code, file_dim) = (bytes[8], u32_at(9) as usize);
        let file_rows = u64::from_le_bytes(bytes[13..21].try_into().unwrap()) as usize;
        if code != format.code() || file_dim != dim || file_rows != rows {
            return Err(corrupt(format!(
                "holds {file_rows} × {file_dim} in format {code}, the manifest says {rows} × \
                 {dim} in {format:?}"
            )));
        }
        let body = &bytes[HEADER..];
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        match format {
            VectorFormat::F32 => Err(corrupt("f32 vectors have no quantised file".into())),
            VectorFormat::Int8 => {
                let want = 8 * dim + rows * dim;
                if body.len() != want {
                    return Err(corrupt(format!(
                        "{} bytes of codes, expected {want}",
                        body.len()
                    )));
                }
                Ok(Quantized::Int8 {
                    dim,
                    lo: floats(&body[..4 * dim]),
                    step: floats(&body[4 * dim..8 * dim]),
                    codes: body[8 * dim..].to_vec(),
                })
            }
            VectorFormat::Binary => {
                let words = dim.div_ceil(64);
                let want = 8 * rows * words;
                if body.len() != want {
                    return Err(corrupt(format!(
                        "{} bytes of bits, expected {want}",
                        body.len()
                    )));
                }
                let bits = body
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                Ok(Quantized::Binary { dim, words, bits })
            }
        }
    }
}

/// `q · c` for f32 `q` and byte codes `c`, in several accumulators so that it vectorises.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn dot_codes(q: &[f32], c: &[u8]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (cq, cc) = (q.chunks_exact(LANES), c.chunks_exact(LANES));
    let tail: f32 = cq
        .remainder()
        .iter()
        .zip(cc.remainder())
        .map(|(x, y)| x * *y as f32)
        .sum();
    for (x, y) in cq.zip(cc) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i] as f32;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Number of bits that differ between two bit strings.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx512vpopcntdq+avx2+popcnt",
    "x86_64+popcnt"
))]
fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Per-dimension lowest value and step (range / 255) of row-major `vectors`; a dimension with
/// one value everywhere gets a step of 1, so its code is 0 and decodes exactly.
pub fn calibrate(vectors: &[f32], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![f32::INFINITY; dim];
    let mut hi = vec![f32::NEG_INFINITY; dim];
    for v in vectors.chunks_exact(dim) {
        for (d, x) in v.iter().enumerate() {
            lo[d] = lo[d].min(*x);
            hi[d] = hi[d].max(*x);
        }
    }
    let step = lo
        .iter()
        .zip(&hi)
        .map(|(l, h)| if h > l { (h - l) / 255.0 } else { 1.0 })
        .collect();
    let lo = lo
        .into_iter()
        .map(|l| if l.is_finite() { l } else { 0.0 })
        .collect();
    (lo, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::{top_k, unit, write_vectors};

    /// Unit vectors in `dim` dimensions from a fixed linear congruential sequence.
    fn vectors(rows: usize, dim: usize) -> Vec<f32> {
        let mut s = 12345u64;
        let raw: Vec<f32> = (0..rows * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        raw.chunks(dim).flat_map(unit).collect()
    }

    #[test]
    fn int8_codes_decode_within_half_a_step() {
        let v = [0.0, -1.0, 0.5, 1.0, 0.1, 0.5];
        let (lo, step) = calibrate(&v, 2);
        assert_eq!(lo, vec![0.0, -1.0]);
        assert_eq!(step, vec![0.5 / 255.0, 2.0 / 255.0]);
        let Quantized::Int8 { codes, .. } = Quantized::int8_with(&v, 2, lo, step) else {
            panic!()
        };
        // By hand, (x - lo) / step rounded: 0, 0; 255, 255; 0.1 / (0.5 / 255) = 51,
        // 1.5 / (2 / 255) = 191.25.
        assert_eq!(codes, vec![0, 0, 255, 255, 51, 191]);
        let q = Quantized::build(VectorFormat::Int8, &[1.0, 1.0, 1.0, 1.0], 2).unwrap();
        let Quantized::Int8 { step, codes, .. } = q else {
            panic!()
        };
        assert_eq!((step, codes), (vec![1.0, 1.0], vec![0, 0, 0, 0]));
    }

    #[test]
    fn binary_candidates_rank_by_hamming_distance() {
        // Signs of rows 0..4: ++++, +++-, --++, ----; the query is ++++.
        let v = [
            1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0,
        ];
        let q = Quantized::build(VectorFormat::Binary, &v, 4).unwrap();
        assert_eq!(q.memory_bytes(), 4 * 8);
        assert_eq!(
            q.candidates(&[0.5, 0.5, 0.5, 0.5], 4, |r| r),
            vec![0, 1, 2, 3]
        );
        // +--- and +++- are both one bit from ++--: the tie rule orders them.
        let tied = [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0];
        let q2 = Quantized::build(VectorFormat::Binary, &tied, 4).unwrap();
        let query = [1.0, 1.0, -1.0, -1.0];
        assert_eq!(q2.candidates(&query, 2, |r| r), vec![0, 1]);
        assert_eq!(q2.candidates(&query, 2, std::cmp::Reverse), vec![1, 0]);
    }

    /// Rescoring every row is the exact scan; rescoring the top 10 of 2,000 int8 rows still finds
    /// the exact top 10 (int8 error is far below the gaps between random unit vectors' scores).
    #[test]
    fn rescored_search_matches_the_exact_scan() {
        let (rows, dim) = (2000, 48);
        let v = vectors(rows, dim);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.f32");
        write_vectors(&path, &v, dim).unwrap();
        let f32s = Vectors::open(&path, rows, dim).unwrap();
        let query = unit(
            &v[7 * dim..8 * dim]
                .iter()
                .map(|x| x + 0.1)
                .collect::<Vec<_>>(),
        );
        let exact = top_k(f32s.as_slice(), dim, &query, 10, |r| r);
        for format in [VectorFormat::Int8, VectorFormat::Binary] {
            let q = Quantized::build(format, f32s.as_slice(), dim).unwrap();
            assert_eq!(
                q.search(&f32s, &query, 10, rows, |r| r),
                exact,
                "{format:?}"
            );
        }
        let int8 = Quantized::build(VectorFormat::Int8, f32s.as_slice(), dim).unwrap();
        assert_eq!(int8.search(&f32s, &query, 10, 50, |r| r), exact);
        assert_eq!(int8.memory_bytes(), rows * dim + 8 * dim);
    }

    #[test]
    fn files_round_trip_and_a_wrong_file_is_named() {
        let v = vectors(30, 70);
        let dir = tempfile::tempdir().unwrap();
        for format in [VectorFormat::Int8, VectorFormat::Binary] {
            let path = dir.path().join(format!("{format:?}.q"));
            let q = Quantized::build(format, &v, 70).unwrap();
            q.write(&path).unwrap();
            assert_eq!(Quantized::read(&path, format, 30, 70).unwrap(), q);
            let err = Quantized::read(&path, format, 31, 70)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&path.display().to_string()) && err.contains("31 × 70"),
                "{err}"
            );
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(bytes.len() - 1);
            std::fs::write(&path, &bytes).unwrap();
            let err = Quantized::read(&path, format, 30, 70)
                .unwrap_err()
                .to_string();
            assert!(err.contains("expected"), "{err}");
        }
    }
}
