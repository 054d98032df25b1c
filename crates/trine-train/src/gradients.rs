//! The gradient of one batch, whole or with cached embedding gradients (GradCache, Gao et al.
//! 2021; sentence-transformers' `CachedMultipleNegativesRankingLoss`).
//!
//! A batch is a few segments of texts (queries; documents) whose embeddings feed a loss. The
//! whole path embeds each segment in one differentiable pass. The cached path gives any loss a
//! large batch in the memory of a small one: (1) embed the texts in chunks of `mini_batch`,
//! keeping only the embeddings; (2) compute the loss on all of them and its gradient with
//! respect to each embedding; (3) embed each chunk again, with the same dropout masks, and
//! backpropagate `Σ e·∂L/∂e`, whose parameter gradient is the chunk's share of `∂L/∂θ`. Only
//! one chunk's graph is alive at a time; the price is a second forward pass.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor, Var};
use trine_kernels::seed::mix;

use crate::model::TrainableModel;
use crate::Result;

/// Gradients summed over the micro-batches of a step.
#[derive(Default)]
pub(crate) struct Grads {
    /// By variable name (ordered, so the clipping norm sums in the same order every run).
    pub params: BTreeMap<String, Vec<f32>>,
    pub proxies: Vec<f32>,
}

fn add_into(acc: &mut Vec<f32>, g: &Tensor) -> Result<()> {
    let v: Vec<f32> = g.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if acc.is_empty() {
        *acc = v;
    } else {
        acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
    }
    Ok(())
}

fn collect(
    store: &candle_core::backprop::GradStore,
    vars: &[(String, Var)],
    grads: &mut Grads,
) -> Result<()> {
    for (name, var) in vars {
        if let Some(g) = store.get(var.as_tensor()) {
            add_into(grads.params.entry(name.clone()).or_default(), g)?;
        }
    }
    Ok(())
}

/// Dropout seed of chunk `c` of segment `s`.
fn chunk_seed(seed: u64, s: usize, c: usize) -> u64 {
    mix(seed ^ mix(((s as u64) << 32) | c as u64))
}

/// The loss of a batch from its segments' embeddings.
pub(crate) type LossOf<'a> = dyn Fn(&[Tensor]) -> candle_core::Result<Tensor> + 'a;

/// Embeds `segments`, computes `loss_of` on their embeddings, and adds `weight` × its gradient
/// to `grads` (proxies included). `mini_batch` turns on the cached path with that many texts per
/// forward pass. Returns the loss value (unweighted).
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate(
    model: &TrainableModel,
    vars: &[(String, Var)],
    segments: &[Vec<&[u32]>],
    seed: u64,
    mini_batch: Option<usize>,
    loss_of: &LossOf,
    weight: f64,
    proxies: Option<&Var>,
    grads: &mut Grads,
) -> Result<f32> {
    let chunk = mini_batch.unwrap_or(usize::MAX).max(1);
    if segments.iter().all(|s| s.len() <= chunk) {
        let embs = segments
            .iter()
            .enumerate()
            .map(|(s, texts)| model.embed(texts, chunk_seed(seed, s, 0)))
            .collect::<Result<Vec<Tensor>>>()?;
        let loss = loss_of(&embs)?;
        let value = loss.to_scalar::<f32>()?;
        let store = (loss * weight)?.backward()?;
        collect(&store, vars, grads)?;
        if let Some(g) = proxies.and_then(|p| store.get(p.as_tensor())) {
            add_into(&mut grads.proxies, g)?;
        }
        return Ok(value);
    }
    // (1) embeddings only, chunk by chunk.
    let mut cached = Vec::with_capacity(segments.len());
    for (s, texts) in segments.iter().enumerate() {
        let parts = texts
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| Ok(model.embed(part, chunk_seed(seed, s, c))?.detach()))
            .collect::<Result<Vec<Tensor>>>()?;
        cached.push(Var::from_tensor(&Tensor::cat(&parts, 0)?)?);
    }
    // (2) the loss and its gradient with respect to every embedding.
    let inputs: Vec<Tensor> = cached.iter().map(|v| v.as_tensor().clone()).collect();
    let loss = loss_of(&inputs)?;
    let value = loss.to_scalar::<f32>()?;
    let store = (loss * weight)?.backward()?;
    if let Some(g) = proxies.and_then(|p| store.get(p.as_tensor())) {
        add_into(&mut grads.proxies, g)?;
    }
    // (3) each chunk again, backpropagating its cached embedding gradient.
    for (s, texts) in segments.iter().enumerate() {
        let Some(g) = store.get(cached[s].as_tensor()) else {
            continue;
        };
        for (c, part) in texts.chunks(chunk).enumerate() {
            let e = model.embed(part, chunk_seed(seed, s, c))?;
            let gc = g.narrow(0, c * chunk, part.len())?;
            let surrogate = (e * gc)?.sum_all()?;
            collect(&surrogate.backward()?, vars, grads)?;
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::InfoNceLoss;
    use trine_encoder::tiny::TinySpec;

    /// With dropout off, cached and whole-batch gradients are the same function of the weights.
    #[test]
    fn cached_gradients_equal_whole_batch_gradients() {
        let (_dir, model) = crate::test_support::tiny_model(TinySpec {
            dropout: 0.0,
            ..Default::default()
        });
        let vars = model.vars();
        let q = model
            .tokenize(&[
                "the cat sat",
                "a dog ran",
                "red car",
                "the sun is big",
                "moon",
            ])
            .unwrap();
        let d = model
            .tokenize(&[
                "the cat sat on the mat",
                "a dog ran fast",
                "a red car is fast",
                "the sun",
                "the moon is small",
            ])
            .unwrap();
        let segments: Vec<Vec<&[u32]>> = vec![
            q.iter().map(Vec::as_slice).collect(),
            d.iter().map(Vec::as_slice).collect(),
        ];
        let loss = InfoNceLoss { scale: 20.0 };
        let loss_of = |e: &[Tensor]| loss.forward(&e[0], &e[1], &[0, 1, 2, 3, 4], None);
        let mut whole = Grads::default();
        let v1 = accumulate(
            &model, &vars, &segments, 3, None, &loss_of, 1.0, None, &mut whole,
        )
        .unwrap();
        let mut cached = Grads::default();
        let v2 = accumulate(
            &model,
            &vars,
            &segments,
            3,
            Some(2),
            &loss_of,
            1.0,
            None,
            &mut cached,
        )
        .unwrap();
        assert!((v1 - v2).abs() < 1e-5, "loss {v1} vs {v2}");
        assert_eq!(whole.params.len(), cached.params.len());
        let mut worst = 0f32;
        let mut norm = 0f32;
        for (name, a) in &whole.params {
            let b = &cached.params[name];
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs());
                norm = norm.max(x.abs());
            }
        }
        assert!(
            norm > 1e-4,
            "gradients vanish: the test would prove nothing"
        );
        assert!(
            worst < 1e-4 * norm.max(1.0),
            "max gradient difference {worst} (max |g| {norm})"
        );
    }
}
