//! What one core can do, and how much of it the bf16 and int8 products reach.
//!
//! ```text
//! cargo run --release -p trine-kernels --example peak
//! ```
//! Peak: a loop of 16 independent `vdpbf16ps` (64 flops each) or `vpdpbusd` (128 integer ops
//! each) on registers, one thread. Products: the AVX512-BF16 and VNNI kernels on the shapes of
//! all-MiniLM-L6-v2's layers for a batch of 32 texts × 256 tokens (8,192 rows; k × n of 384 ×
//! 384, 384 × 1536 and 1536 × 384), one thread. Prints one JSON object.

use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

use trine_kernels::avx512_bf16::PackedBf16Pairs;
use trine_kernels::vnni::PackedI8;

const ITERS: usize = 20_000_000;

#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn bf16_peak() -> f64 {
    let a: __m512bh = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi16(0x3f80));
    let mut acc = [_mm512_setzero_ps(); 16];
    let t = Instant::now();
    for _ in 0..ITERS {
        for x in acc.iter_mut() {
            *x = _mm512_dpbf16_ps(*x, a, a);
        }
    }
    let s = t.elapsed().as_secs_f64();
    black_box(acc);
    (ITERS * 16 * 64) as f64 / s / 1e9
}

#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn int8_peak() -> f64 {
    let a = _mm512_set1_epi8(1);
    let mut acc = [_mm512_setzero_si512(); 16];
    let t = Instant::now();
    for _ in 0..ITERS {
        for x in acc.iter_mut() {
            *x = _mm512_dpbusd_epi32(*x, a, a);
        }
    }
    let s = t.elapsed().as_secs_f64();
    black_box(acc);
    (ITERS * 16 * 128) as f64 / s / 1e9
}

/// Best of three runs of `f`, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let rows = 8192;
    let shapes = [(384, 384), (384, 1536), (1536, 384)];
    let mut report = serde_json::Map::new();
    if trine_kernels::avx512_bf16::available() {
        // SAFETY: the CPU has AVX512-BF16 (checked above).
        report.insert("bf16_peak_gflops".into(), unsafe { bf16_peak() }.into());
        let mut products = Vec::new();
        for (k, n) in shapes {
            let w: Vec<u16> = (0..n * k).map(|i| 0x3c00 + (i % 64) as u16).collect();
            let packed = PackedBf16Pairs::new(&w, n, k);
            let a = vec![0x3f80u16; rows * packed.padded_k()];
            let mut c = vec![0f32; rows * n];
            let s = best(|| packed.xwt(&a, &mut c));
            products.push(serde_json::json!({
                "k": k, "n": n, "rows": rows, "gflops": (2 * rows * n * k) as f64 / s / 1e9,
            }));
        }
        report.insert("bf16_products".into(), products.into());
    }
    if trine_kernels::vnni::available() {
        // SAFETY: the CPU has AVX512-VNNI (checked above).
        report.insert("int8_peak_gops".into(), unsafe { int8_peak() }.into());
        let mut products = Vec::new();
        for (k, n) in shapes {
            let w: Vec<i8> = (0..n * k).map(|i| (i % 127) as i8 - 63).collect();
            let packed = PackedI8::new(&w, n, k);
            let a = vec![3u8; rows * packed.padded_k()];
            let mut c = vec![0i32; rows * n];
            let s = best(|| packed.xwt(&a, &mut c));
            products.push(serde_json::json!({
                "k": k, "n": n, "rows": rows, "gops": (2 * rows * n * k) as f64 / s / 1e9,
            }));
        }
        report.insert("int8_products".into(), products.into());
    }
    println!("{}", serde_json::Value::Object(report));
}
