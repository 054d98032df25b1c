//! Training losses, each in its own module with its formula, hand-computed test values and a
//! finite-difference gradient check. All work on candle tensors of any float dtype, so gradients
//! come from candle's autograd.

mod contrastive;
mod distance;
mod infonce;
mod mining;
mod proxy_anchor;
mod proxy_nca;
mod quadruplet;
mod supcon;
mod triplet;

#[cfg(test)]
mod gradcheck;

pub use contrastive::ContrastiveLoss;
pub use distance::{cosine_matrix, unit_rows, Distance};
pub use infonce::InfoNceLoss;
pub use mining::{MinedTripletLoss, Miner, MiningStats};
pub use proxy_anchor::ProxyAnchorLoss;
pub use proxy_nca::ProxyNcaLoss;
pub use quadruplet::QuadrupletLoss;
pub use supcon::SupConLoss;
pub use triplet::TripletLoss;

use candle_core::{Result, Tensor};

/// `[labels.len(), classes]` one-hot rows in `like`'s dtype and device.
pub fn one_hot(labels: &[u32], classes: usize, like: &Tensor) -> Result<Tensor> {
    let mut v = vec![0f32; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * classes + l as usize] = 1.0;
    }
    Tensor::from_vec(v, (labels.len(), classes), like.device())?.to_dtype(like.dtype())
}
