//! Text in, vectors out: prompt, tokenize, sort by length, pad per batch, run the transformer,
//! pool (and the folder's Dense / Normalize modules), truncate, restore order.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::pooling::l2_normalize;
use crate::{EncoderError, Head, ModelFolder, Precision, Result, TextTokenizer, Transformer};

/// Settings for [`Encoder`].
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    /// Texts per forward pass (without a token budget).
    pub batch_size: usize,
    /// A token budget per forward pass instead of a fixed count, as text-embeddings-inference's
    /// `--max-batch-tokens`: texts sorted by length fill a batch while its padded size (texts ×
    /// the longest) stays within the budget, so short texts run in large batches and long ones
    /// in small. A text longer than the budget runs alone.
    pub max_batch_tokens: Option<usize>,
    /// Texts tokenized and length-sorted together; bounds memory on very large inputs.
    pub chunk_size: usize,
    /// Number format of the matrix products.
    pub precision: Precision,
    /// Keep only the first this many dimensions (Matryoshka models), renormalised when the
    /// folder normalises.
    pub truncate_dim: Option<usize>,
    /// One prompt for every text, replacing the folder's query / document / default prompts.
    pub prompt: Option<PromptChoice>,
}

/// A prompt given by name (one of the folder's `prompts`) or as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptChoice {
    Name(String),
    Text(String),
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            batch_size: 32,
            max_batch_tokens: None,
            chunk_size: 16_384,
            precision: Precision::F32,
            truncate_dim: None,
            prompt: None,
        }
    }
}

/// What a text is, which decides the prompt it gets (e5's `query: ` / `passage: `, bge's
/// instruction): search queries, indexed documents, or plain texts (the default prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Document,
    Plain,
}

/// A loaded sentence encoder.
pub struct Encoder {
    folder: ModelFolder,
    model: Transformer,
    head: Head,
    forced_prompt: Option<String>,
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
        let model = Transformer::load(&folder, &device, options.precision)?;
        Self::from_model(folder, model, options)
    }

    /// Wraps a model already in memory (for example a training run's current weights, built with
    /// `Mode::Inference` so the fused kernels run) with the folder's tokenizer and pooling.
    pub fn from_model(
        folder: ModelFolder,
        model: impl Into<Transformer>,
        options: EncoderOptions,
    ) -> Result<Self> {
        let tokenizer = TextTokenizer::load(&folder)?;
        let head = Head::load(&folder, &Device::Cpu)?;
        let model = model.into();
        let full = head.dim(folder.family.shape().hidden_size);
        if let Some(d) = options.truncate_dim {
            if d == 0 || d > full {
                return Err(EncoderError::TruncateDim {
                    asked: d,
                    dim: full,
                });
            }
        }
        let forced_prompt = match &options.prompt {
            Some(PromptChoice::Name(name)) => Some(folder.prompt(name)?.to_string()),
            Some(PromptChoice::Text(text)) => Some(text.clone()),
            None => None,
        };
        Ok(Encoder {
            folder,
            model,
            head,
            forced_prompt,
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

    /// Output dimension (after any truncation).
    pub fn dim(&self) -> usize {
        self.options
            .truncate_dim
            .unwrap_or_else(|| self.head.dim(self.folder.family.shape().hidden_size))
    }

    /// Embeds already-tokenized texts as one padded batch: `[n, dim]`. `prompt_tokens` leading
    /// tokens are a prompt (left out of pooling when the folder says so).
    pub fn embed_tokens(&self, ids: &[&[u32]], prompt_tokens: usize) -> Result<Tensor> {
        let batch = self.tokenizer.pad(ids, &self.device)?;
        let hidden = self
            .model
            .forward(&batch.input_ids, &batch.attention_mask)?;
        let pooled = self
            .head
            .apply(&hidden, &batch.attention_mask, prompt_tokens)?;
        match self.options.truncate_dim {
            Some(d) if d < pooled.dim(1)? => {
                let cut = pooled.narrow(1, 0, d)?;
                if self.head.normalize {
                    l2_normalize(&cut)
                } else {
                    Ok(cut)
                }
            }
            _ => Ok(pooled),
        }
    }

    /// The folder's default prompt (`default_prompt_name`), which sentence-transformers applies
    /// when no prompt is named.
    pub fn default_prompt(&self) -> Option<&str> {
        let name = self.folder.default_prompt_name.as_deref()?;
        self.folder.prompts.get(name).map(String::as_str)
    }

    /// The prompt for search queries: the folder's `query` prompt, else its default.
    pub fn query_prompt(&self) -> Option<&str> {
        self.folder
            .prompts
            .get("query")
            .map(String::as_str)
            .or_else(|| self.default_prompt())
    }

    /// The prompt for indexed documents: the folder's `document` (or `passage`, `corpus`)
    /// prompt; the default prompt is for queries, so none otherwise.
    pub fn document_prompt(&self) -> Option<&str> {
        ["document", "passage", "corpus"]
            .iter()
            .find_map(|name| self.folder.prompts.get(*name))
            .map(String::as_str)
    }

    /// The prompt texts of `role` get: the one of [`EncoderOptions::prompt`] when set, else the
    /// folder's for that role; `None` rather than an empty prompt.
    pub fn prompt_for(&self, role: Role) -> Option<&str> {
        let prompt = match (&self.forced_prompt, role) {
            (Some(p), _) => Some(p.as_str()),
            (None, Role::Query) => self.query_prompt(),
            (None, Role::Document) => self.document_prompt(),
            (None, Role::Plain) => self.default_prompt(),
        };
        prompt.filter(|p| !p.is_empty())
    }

    /// The options the encoder was loaded with.
    pub fn options(&self) -> &EncoderOptions {
        &self.options
    }

    /// Embeds `texts` with the folder's default prompt (none when it has none), as
    /// sentence-transformers' `encode` does; see [`Encoder::encode_prompted`].
    pub fn encode(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        self.encode_as(texts, Role::Plain, progress)
    }

    /// Embeds `texts` with the prompt of `role`.
    pub fn encode_as(
        &self,
        texts: &[&str],
        role: Role,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        self.encode_prompted(texts, self.prompt_for(role), progress)
    }

    /// Embeds `texts`, each prefixed with `prompt`, returning `texts.len() * dim` values in
    /// input order. `progress` is called with the number of texts finished after each batch.
    pub fn encode_prompted(
        &self,
        texts: &[&str],
        prompt: Option<&str>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        self.encode_batched(texts, prompt, self.options.batch_size, progress)
    }

    /// [`Encoder::encode_prompted`] with `batch_size` texts per forward pass instead of the
    /// options' (the token budget, when set, still bounds each batch).
    pub fn encode_batched(
        &self,
        texts: &[&str],
        prompt: Option<&str>,
        batch_size: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        let dim = self.dim();
        let mut out = vec![0f32; texts.len() * dim];
        let batch_size = batch_size.max(1);
        // sentence-transformers counts the prompt's tokens with the start token, without the end.
        let prompt_tokens = match prompt {
            Some(p) if !p.is_empty() => self.tokenizer.encode(&[p])?[0].len().saturating_sub(1),
            _ => 0,
        };
        for (chunk_no, chunk) in texts.chunks(self.options.chunk_size.max(1)).enumerate() {
            let base = chunk_no * self.options.chunk_size.max(1);
            let ids = match prompt {
                Some(p) if !p.is_empty() => {
                    let joined: Vec<String> = chunk.iter().map(|t| format!("{p}{t}")).collect();
                    let refs: Vec<&str> = joined.iter().map(String::as_str).collect();
                    self.tokenizer.encode(&refs)?
                }
                _ => self.tokenizer.encode(chunk)?,
            };
            // Longest first: the slowest batches run while the progress bar is young, and rows in
            // a batch have similar lengths, so little time goes to padding.
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
            let lengths: Vec<usize> = order.iter().map(|&i| ids[i].len()).collect();
            let mut start = 0;
            for end in batch_ends(&lengths, batch_size, self.options.max_batch_tokens) {
                let batch = &order[start..end];
                start = end;
                let rows: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                let emb = self.embed_tokens(&rows, prompt_tokens)?.to_vec2::<f32>()?;
                for (&i, v) in batch.iter().zip(emb) {
                    out[(base + i) * dim..(base + i + 1) * dim].copy_from_slice(&v);
                }
                progress(batch.len());
            }
        }
        Ok(out)
    }

    /// Number of tokens the model sees for each text, as [`Encoder::encode`] runs it (the
    /// default prompt and special tokens included, after truncation).
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
        self.token_counts_as(texts, Role::Plain)
    }

    /// Number of tokens the model sees for each text of `role` (its prompt included).
    pub fn token_counts_as(&self, texts: &[&str], role: Role) -> Result<Vec<usize>> {
        self.token_counts_prompted(texts, self.prompt_for(role))
    }

    /// Number of tokens the model sees for each text prefixed with `prompt`.
    pub fn token_counts_prompted(
        &self,
        texts: &[&str],
        prompt: Option<&str>,
    ) -> Result<Vec<usize>> {
        let ids = match prompt.filter(|p| !p.is_empty()) {
            Some(p) => {
                let joined: Vec<String> = texts.iter().map(|t| format!("{p}{t}")).collect();
                let refs: Vec<&str> = joined.iter().map(String::as_str).collect();
                self.tokenizer.encode(&refs)?
            }
            None => self.tokenizer.encode(texts)?,
        };
        Ok(ids.iter().map(Vec::len).collect())
    }
}

/// Where each batch ends in `lengths` (sorted longest first): every `batch_size` texts, or with a
/// token budget as many as fit padded (count × the first, longest, length), at least one.
fn batch_ends(lengths: &[usize], batch_size: usize, max_batch_tokens: Option<usize>) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut start = 0;
    while start < lengths.len() {
        let take = match max_batch_tokens {
            Some(budget) => (budget / lengths[start].max(1)).max(1),
            None => batch_size,
        };
        start = (start + take).min(lengths.len());
        ends.push(start);
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::batch_ends;

    #[test]
    fn batches_follow_the_count_or_the_token_budget() {
        let lengths = [256, 200, 100, 100, 50, 10, 10, 10];
        assert_eq!(batch_ends(&lengths, 3, None), vec![3, 6, 8]);
        // 512 tokens: 256 with 200 padded to 256, then five from 100 down (5 × 100), the rest.
        assert_eq!(batch_ends(&lengths, 3, Some(512)), vec![2, 7, 8]);
        assert_eq!(batch_ends(&lengths, 3, Some(100)), vec![1, 2, 3, 4, 6, 8]);
        assert_eq!(batch_ends(&[], 3, Some(100)), Vec::<usize>::new());
    }
}
