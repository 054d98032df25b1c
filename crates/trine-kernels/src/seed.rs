//! Deriving independent random seeds from small counters (run seed, step, row).

/// SplitMix64's finaliser: nearby inputs give unrelated outputs, so `mix(seed ^ counter)` makes
/// a fresh seed per step or row that depends only on the run's seed and the position.
#[inline(always)]
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
