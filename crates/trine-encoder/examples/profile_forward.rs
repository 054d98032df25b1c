//! Where does a forward pass spend its time? Times each kind of operation of one BERT layer on a
//! realistic batch (32 × 256 tokens, all-MiniLM-L6-v2 shapes) and the whole model.
//!
//! `cargo run --release -p trine-encoder --example profile_forward -- models/all-MiniLM-L6-v2`

use std::time::Instant;

use candle_core::{Device, Tensor};
use trine_encoder::{Bert, ModelFolder};

fn time<T>(label: &str, reps: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / reps as f64;
    println!("{label:<40} {ms:>9.2} ms");
    ms
}

fn main() -> candle_core::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or("models/all-MiniLM-L6-v2".into());
    let (b, l, h, nh, inter) = (32usize, 256usize, 384usize, 12usize, 1536usize);
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (b * l, h), &dev)?;
    let w_qkv = Tensor::randn(0f32, 0.05, (3 * h, h), &dev)?;
    let w_up = Tensor::randn(0f32, 0.05, (inter, h), &dev)?;
    let w_down = Tensor::randn(0f32, 0.05, (h, inter), &dev)?;
    let up = Tensor::randn(0f32, 1.0, (b * l, inter), &dev)?;
    let q = Tensor::randn(0f32, 1.0, (b, nh, l, h / nh), &dev)?;
    let scores = Tensor::randn(0f32, 1.0, (b, nh, l, l), &dev)?;
    let bias = Tensor::zeros((b, 1, 1, l), candle_core::DType::F32, &dev)?;
    let ln = candle_nn::LayerNorm::new(
        Tensor::ones(h, candle_core::DType::F32, &dev)?,
        Tensor::zeros(h, candle_core::DType::F32, &dev)?,
        1e-12,
    );
    let reps = 3;
    let mut total = 0.0;
    total += time("qkv projection [8192x384]x[384x1152]", reps, || {
        x.matmul(&w_qkv.t().unwrap()).unwrap()
    });
    total += time("qkv permute/contiguous", reps, || {
        Tensor::randn(0f32, 1.0, (b * l, 3 * h), &dev).unwrap(); // allocation baseline excluded below
    }) * 0.0;
    let qkv = x.matmul(&w_qkv.t()?)?;
    total += time("qkv reshape+permute+contiguous", reps, || {
        qkv.reshape((b, l, 3, nh, h / nh))
            .unwrap()
            .permute((2, 0, 3, 1, 4))
            .unwrap()
            .contiguous()
            .unwrap()
    });
    total += time("q * scale", reps, || (&q * 0.125).unwrap());
    total += time("scores q k^T (batched)", reps, || {
        q.matmul(&q.t().unwrap()).unwrap()
    });
    total += time("scores + mask bias", reps, || {
        scores.broadcast_add(&bias).unwrap()
    });
    total += time("softmax_last_dim", reps, || {
        candle_nn::ops::softmax_last_dim(&scores).unwrap()
    });
    total += time("probs v (batched)", reps, || scores.matmul(&q).unwrap());
    total += time("ctx transpose+contiguous", reps, || {
        q.transpose(1, 2).unwrap().contiguous().unwrap()
    });
    total += time("attn out [8192x384]x[384x384]", reps, || {
        x.matmul(&w_qkv.narrow(0, 0, h).unwrap().t().unwrap())
            .unwrap()
    });
    total += time("residual add", reps, || (&x + &x).unwrap());
    total += 2.0
        * time("layer norm", reps, || {
            candle_core::Module::forward(&ln, &x).unwrap()
        });
    total += time("up [8192x384]x[384x1536]", reps, || {
        x.matmul(&w_up.t().unwrap()).unwrap()
    });
    total += time("gelu_erf [8192x1536]", reps, || up.gelu_erf().unwrap());
    total += time("bias add [8192x1536]", reps, || {
        up.broadcast_add(&w_up.narrow(1, 0, 1).unwrap().squeeze(1).unwrap())
            .unwrap()
    });
    total += time("down [8192x1536]x[1536x384]", reps, || {
        up.matmul(&w_down.t().unwrap()).unwrap()
    });
    println!(
        "{:<40} {:>9.2} ms  (x6 layers = {:.0} ms)",
        "sum per layer",
        total,
        total * 6.0
    );

    if let Ok(folder) = ModelFolder::open(std::path::Path::new(&dir)) {
        let model = Bert::load(&folder, &dev, Default::default())
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let ids = Tensor::ones((b, l), candle_core::DType::U32, &dev)?;
        let mask = Tensor::ones((b, l), candle_core::DType::F32, &dev)?;
        let ms = time("whole model forward (32 x 256)", 2, || {
            model.forward(&ids, &mask).unwrap()
        });
        println!("=> {:.1} docs/s at 256 tokens", 32.0 / ms * 1000.0);
    }
    Ok(())
}
