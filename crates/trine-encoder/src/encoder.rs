//! Text in, vectors out: tokenize, sort by length, pad per batch, run BERT, pool, restore order.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::pooling::pool;
use crate::{Bert, Mode, ModelFolder, Precision, Result, TextTokenizer};

/// Settings for [`Encoder`].
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Texts tokenized and length-sorted together; bounds memory on very large inputs.
    pub chunk_size: usize,
    /// Number format of the matrix products.
    pub precision: Precision,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            batch_size: 32,
            chunk_size: 16_384,
            precision: Precision::F32,
        }
    }
}

/// A loaded sentence encoder.
pub struct Encoder {
    folder: ModelFolder,
    model: Bert,
    tokenizer: TextTokenizer,
    device: Device,
    options: EncoderOptions,
    fingerprint: std::sync::OnceLock<String>,
}

impl Encoder {
    /// Loads a sentence-transformers model folder on the CPU.
    pub fn load(dir: &Path, options: EncoderOptions) -> Result<Self> {
        let folder = ModelFolder::open(dir)?;
        let device = Device::Cpu;
        let tokenizer = TextTokenizer::load(&folder)?;
        let model = Bert::load(&folder, &device, options.precision)?;
        Ok(Encoder {
            folder,
            model,
            tokenizer,
            device,
            options,
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// Wraps a model already in memory (for example a training run's current weights, built with
    /// `Mode::Inference` so the fused kernels run) with the folder's tokenizer and pooling.
    pub fn from_model(folder: ModelFolder, model: Bert, options: EncoderOptions) -> Result<Self> {
        let tokenizer = TextTokenizer::load(&folder)?;
        Ok(Encoder {
            folder,
            model,
            tokenizer,
            device: Device::Cpu,
            options,
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// The model folder's settings.
    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    /// The tokenizer, set up as sentence-transformers sets it.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The model's [`crate::fingerprint`], hashed once per loaded encoder.
    pub fn fingerprint(&self) -> Result<&str> {
        if let Some(fp) = self.fingerprint.get() {
            return Ok(fp);
        }
        let fp = crate::fingerprint(&self.folder)?;
        Ok(self.fingerprint.get_or_init(|| fp))
    }

    /// Output dimension.
    pub fn dim(&self) -> usize {
        self.model.hidden_size()
    }

    /// Embeds already-tokenized texts as one padded batch: `[n, dim]`.
    pub fn embed_tokens(&self, ids: &[&[u32]]) -> Result<Tensor> {
        let batch = self.tokenizer.pad(ids, &self.device)?;
        let hidden =
            self.model
                .forward(&batch.input_ids, &batch.attention_mask, Mode::Inference)?;
        pool(
            &hidden,
            &batch.attention_mask,
            self.folder.pooling,
            self.folder.normalize,
        )
    }

    /// Embeds `texts`, returning `texts.len() * dim` values in input order. `progress` is called
    /// with the number of texts finished after each batch.
    pub fn encode(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let dim = self.dim();
        let mut out = vec![0f32; texts.len() * dim];
        let batch_size = self.options.batch_size.max(1);
        for (chunk_no, chunk) in texts.chunks(self.options.chunk_size.max(1)).enumerate() {
            let base = chunk_no * self.options.chunk_size.max(1);
            let ids = self.tokenizer.encode(chunk)?;
            // Longest first: the slowest batches run while the progress bar is young, and rows in
            // a batch have similar lengths, so little time goes to padding.
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
            for batch in order.chunks(batch_size) {
                let rows: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                let emb = self.embed_tokens(&rows)?.to_vec2::<f32>()?;
                for (&i, v) in batch.iter().zip(emb) {
                    out[(base + i) * dim..(base + i + 1) * dim].copy_from_slice(&v);
                }
                progress(batch.len());
            }
        }
        Ok(out)
    }

    /// Number of tokens (special tokens included, after truncation) of each text.
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self.tokenizer.encode(texts)?.iter().map(Vec::len).collect())
    }
}
