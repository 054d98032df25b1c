//! Long documents as several chunks: split at the tokenizer level into windows of at most N
//! tokens with M tokens of overlap, each embedded on its own (with the role's prompt), instead
//! of cutting the text off at `max_seq_length`.

use crate::{Encoder, EncoderError, Result, Role};

/// How to split texts: chunks of at most `tokens` tokens (prompt and special tokens included),
/// each repeating the last `overlap` tokens of the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    pub tokens: usize,
    pub overlap: usize,
}

/// Chunk vectors of a list of texts.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    /// One `dim`-wide vector per chunk, texts in input order, chunks in text order.
    pub vectors: Vec<f32>,
    /// Byte spans `[start, end)` of each text's chunks in that text (at least one per text).
    pub spans: Vec<Vec<(u32, u32)>>,
}

impl Encoder {
    /// Splits each text into chunks (see [`Chunking`]) and embeds every chunk with the prompt
    /// of `role`. `progress` counts chunks.
    pub fn encode_chunked(
        &self,
        texts: &[&str],
        role: Role,
        chunking: Chunking,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Chunked> {
        let spans = self.split_chunks(texts, role, chunking)?;
        let vectors = self.encode_spans(texts, &spans, role, progress)?;
        Ok(Chunked { vectors, spans })
    }

    /// The byte spans of each text's chunks, leaving room in each for the prompt of `role`.
    pub fn split_chunks(
        &self,
        texts: &[&str],
        role: Role,
        chunking: Chunking,
    ) -> Result<Vec<Vec<(u32, u32)>>> {
        let window = self.chunk_window(chunking, self.prompt_for(role))?;
        texts
            .iter()
            .map(|text| {
                Ok(self
                    .tokenizer()
                    .window_spans(text, window, chunking.overlap)?
                    .into_iter()
                    .map(|(a, b)| (a as u32, b.max(a) as u32))
                    .collect())
            })
            .collect()
    }

    /// Embeds the `spans` of each text (from [`Encoder::split_chunks`]) with the prompt of
    /// `role`: one vector per span, texts in order.
    pub fn encode_spans(
        &self,
        texts: &[&str],
        spans: &[Vec<(u32, u32)>],
        role: Role,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        let pieces: Vec<&str> = texts
            .iter()
            .copied()
            .zip(spans)
            .flat_map(|(text, own)| {
                own.iter()
                    .map(move |&(a, b)| text.get(a as usize..b as usize).unwrap_or(text))
            })
            .collect();
        self.encode_prompted(&pieces, self.prompt_for(role), progress)
    }

    /// Text tokens per chunk: the chunk size less the special tokens and the prompt's tokens;
    /// an error unless it leaves room for more than `overlap` tokens within `max_seq_length`.
    fn chunk_window(&self, chunking: Chunking, prompt: Option<&str>) -> Result<usize> {
        let max = self.folder().max_seq_length;
        let bad = |message: String| Err(EncoderError::Chunking { message });
        if chunking.tokens == 0 || chunking.tokens > max {
            return bad(format!(
                "--chunk-tokens {} is outside 1..={max} (the model's max_seq_length)",
                chunking.tokens
            ));
        }
        let tokenizer = self.tokenizer();
        let specials = tokenizer.special_tokens()?;
        let prompt_tokens = match prompt {
            Some(p) => tokenizer.encode(&[p])?[0].len().saturating_sub(specials),
            None => 0,
        };
        let window = chunking.tokens.saturating_sub(specials + prompt_tokens);
        if window <= chunking.overlap {
            return bad(format!(
                "--chunk-overlap {} leaves no new tokens in a chunk of {} ({specials} special \
                 and {prompt_tokens} prompt tokens take the rest); use a smaller overlap",
                chunking.overlap, chunking.tokens
            ));
        }
        Ok(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{write_tiny_model, TinySpec};
    use crate::EncoderOptions;

    /// The tiny model: one token per vocabulary word, `max_seq_length` 16.
    fn encoder() -> (tempfile::TempDir, Encoder) {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
        let enc = Encoder::load(dir.path(), EncoderOptions::default()).unwrap();
        (dir, enc)
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    fn pieces(text: &str, spans: &[(u32, u32)]) -> Vec<String> {
        spans
            .iter()
            .map(|&(a, b)| text[a as usize..b as usize].to_string())
            .collect()
    }

    #[test]
    fn windows_step_by_the_chunk_less_its_overlap_and_end_at_the_last_token() {
        let (_dir, enc) = encoder();
        // Ten one-token words; 6 tokens a chunk = [CLS] + 4 words + [SEP]; overlap 1, so the
        // windows start at words 0, 3 and 6, and the last ends at word 9.
        let text = "the cat sat on the mat a dog ran fast";
        let c = Chunking {
            tokens: 6,
            overlap: 1,
        };
        let spans = enc.split_chunks(&[text], Role::Document, c).unwrap();
        assert_eq!(
            pieces(text, &spans[0]),
            ["the cat sat on", "on the mat a", "a dog ran fast"]
        );
        let counts = enc
            .token_counts(
                &pieces(text, &spans[0])
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        assert!(counts.iter().all(|&n| n <= 6), "{counts:?}");
    }

    #[test]
    fn a_short_text_is_one_chunk_embedded_as_without_chunking() {
        let (_dir, enc) = encoder();
        let texts = ["the red car", "", "a dog ran fast on the mat"];
        let c = Chunking {
            tokens: 12,
            overlap: 2,
        };
        let chunked = enc
            .encode_chunked(&texts, Role::Document, c, &mut |_| {})
            .unwrap();
        assert_eq!(
            chunked.spans,
            vec![vec![(0, 11)], vec![(0, 0)], vec![(0, 25)]]
        );
        let plain = enc.encode_as(&texts, Role::Document, &mut |_| {}).unwrap();
        let worst = max_abs_diff(&chunked.vectors, &plain);
        assert!(worst < 1e-6, "max abs diff {worst}");
    }

    #[test]
    fn each_chunk_vector_is_its_span_embedded_alone_in_order() {
        let (_dir, enc) = encoder();
        let text = "the sun is big . the moon is small . a red car ran fast on the mat";
        let c = Chunking {
            tokens: 8,
            overlap: 2,
        };
        let chunked = enc
            .encode_chunked(&[text], Role::Document, c, &mut |_| {})
            .unwrap();
        let parts = pieces(text, &chunked.spans[0]);
        assert!(parts.len() >= 3, "{parts:?}");
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let alone = enc.encode_as(&refs, Role::Document, &mut |_| {}).unwrap();
        let worst = max_abs_diff(&chunked.vectors, &alone);
        assert!(worst < 1e-6, "max abs diff {worst}");
    }

    #[test]
    fn settings_that_do_not_fit_the_model_are_named() {
        let (_dir, enc) = encoder();
        let too_long = Chunking {
            tokens: 17,
            overlap: 0,
        };
        let err = enc
            .split_chunks(&["the cat"], Role::Document, too_long)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--chunk-tokens 17 is outside 1..=16"), "{err}");
        let no_room = Chunking {
            tokens: 6,
            overlap: 4,
        };
        let err = enc
            .split_chunks(&["the cat"], Role::Document, no_room)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--chunk-overlap 4 leaves no new tokens"),
            "{err}"
        );
    }
}
