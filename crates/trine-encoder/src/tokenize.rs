//! Tokenization as sentence-transformers (6) does it: optional lower-casing, truncation to
//! `max_seq_length`, and padding to the longest text of each batch. Texts are not stripped
//! (sentence-transformers 6 stopped stripping; whitespace matters to SentencePiece and BPE
//! vocabularies).

use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::{EncoderError, ModelFolder, Result};

/// A tokenizer set up for one model folder.
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for splitting long texts (made on first use).
    untruncated: std::sync::OnceLock<Tokenizer>,
    path: std::path::PathBuf,
    do_lower_case: bool,
    pad_id: u32,
}

/// A padded batch ready for the model.
#[derive(Debug)]
pub struct Batch {
    /// `[batch, seq]` token ids (u32).
    pub input_ids: Tensor,
    /// `[batch, seq]` 1.0 for real tokens, 0.0 for padding (f32).
    pub attention_mask: Tensor,
    /// Real token count of each row.
    pub lengths: Vec<usize>,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, replacing whatever truncation and padding it carries with
    /// truncation at the folder's `max_seq_length` and no padding (batches pad themselves).
    /// Fails when the tokenizer can produce ids the model's embedding table lacks (a tokenizer
    /// of another model), naming both files.
    pub fn load(folder: &ModelFolder) -> Result<Self> {
        let t = Self::from_file(
            &folder.tokenizer,
            folder.max_seq_length,
            folder.do_lower_case,
        )?;
        let tokens = t.inner.get_vocab_size(true);
        let rows = folder.family.shape().vocab_size;
        if tokens > rows {
            return Err(EncoderError::Tokenizer {
                path: folder.tokenizer.clone(),
                message: format!(
                    "{tokens} tokens, but {} says vocab_size {rows}: the tokenizer belongs to \
                     another model",
                    folder.dir.join("config.json").display()
                ),
            });
        }
        Ok(t)
    }

    /// Loads a tokenizer file directly.
    pub fn from_file(path: &Path, max_seq_length: usize, do_lower_case: bool) -> Result<Self> {
        let err = |message: String| EncoderError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let mut inner = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        let pad_id = inner
            .token_to_id("[PAD]")
            .or_else(|| inner.token_to_id("<pad>"))
            .unwrap_or(0);
        Ok(TextTokenizer {
            inner,
            untruncated: std::sync::OnceLock::new(),
            path: path.to_path_buf(),
            do_lower_case,
            pad_id,
        })
    }

    /// Token ids of each text, special tokens included, truncated.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let prepared: Vec<String> = texts
            .iter()
            .map(|t| {
                if self.do_lower_case {
                    t.to_lowercase()
                } else {
                    t.to_string()
                }
            })
            .collect();
        let encodings =
            self.inner
                .encode_batch(prepared, true)
                .map_err(|e| EncoderError::Tokenizer {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Tokens the tokenizer adds around one text (`[CLS]`/`[SEP]`, `<s>`/`</s>`).
    pub fn special_tokens(&self) -> Result<usize> {
        Ok(self.encode(&[""])?[0].len())
    }

    /// Byte spans `[start, end)` of `text` in windows of at most `window` of its tokens (special
    /// tokens not counted), each starting `window - overlap` tokens after the one before, the
    /// last ending at the text's last token; one span `(0, 0)` when the text has no tokens.
    /// Spans follow the tokenizer's offsets, so they start and end on token boundaries.
    pub fn window_spans(
        &self,
        text: &str,
        window: usize,
        overlap: usize,
    ) -> Result<Vec<(usize, usize)>> {
        assert!(
            window > overlap,
            "window {window} must exceed overlap {overlap}"
        );
        let whole = self.untruncated.get_or_init(|| {
            let mut t = self.inner.clone();
            t.with_truncation(None)
                .expect("turning truncation off cannot fail");
            t
        });
        let encoding = whole
            .encode(text, false)
            .map_err(|e| EncoderError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let offsets = encoding.get_offsets();
        if offsets.is_empty() {
            return Ok(vec![(0, 0)]);
        }
        let mut spans = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + window).min(offsets.len());
            spans.push((offsets[start].0, offsets[end - 1].1));
            if end == offsets.len() {
                return Ok(spans);
            }
            start += window - overlap;
        }
    }

    /// Pads token id lists to the longest one and builds the model's input tensors.
    pub fn pad(&self, ids: &[&[u32]], device: &Device) -> Result<Batch> {
        let max_len = ids.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut flat = Vec::with_capacity(ids.len() * max_len);
        let mut mask = Vec::with_capacity(ids.len() * max_len);
        for row in ids {
            flat.extend_from_slice(row);
            flat.extend(std::iter::repeat_n(self.pad_id, max_len - row.len()));
            mask.extend(std::iter::repeat_n(1f32, row.len()));
            mask.extend(std::iter::repeat_n(0f32, max_len - row.len()));
        }
        Ok(Batch {
            input_ids: Tensor::from_vec(flat, (ids.len(), max_len), device)?,
            attention_mask: Tensor::from_vec(mask, (ids.len(), max_len), device)?,
            lengths: ids.iter().map(|r| r.len()).collect(),
        })
    }
}
