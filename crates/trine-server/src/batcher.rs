//! Dynamic batching of the encoder's work, as text-embeddings-inference does: requests that
//! arrive while the encoder is busy wait in a queue, and the next batch takes every one of them
//! (up to a bound on texts), so sixteen clients' queries run as one forward pass instead of
//! sixteen. Nothing waits for company: a request that finds the encoder idle is encoded at once.

use std::sync::{mpsc, Arc};

use prometheus::Histogram;
use tokio::sync::oneshot;
use trine_encoder::Encoder;

/// Vectors (row-major) and the token count of each text, of one request.
pub type Encoded = (Vec<f32>, Vec<usize>);

struct Job {
    texts: Vec<String>,
    prompt: Option<String>,
    reply: oneshot::Sender<Result<Encoded, String>>,
}

/// A queue in front of one encoder thread; dropping it stops the thread once the queue is empty.
pub struct Batcher {
    queue: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the encoder thread. A batch holds at most `max_texts` texts (at least 1), except
    /// that a single request larger than that is one batch of its own (requests are never split).
    pub fn start(
        encoder: Arc<Encoder>,
        max_texts: usize,
        sizes: Histogram,
    ) -> std::io::Result<Self> {
        if max_texts == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the most texts per encoder batch (--max-batch-texts) must be at least 1",
            ));
        }
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("trine-encoder".into())
            .spawn(move || run(&encoder, &jobs, max_texts, &sizes))?;
        Ok(Batcher { queue })
    }

    /// Embeds `texts` (each prefixed by `prompt`) in the next batch.
    pub async fn encode(
        &self,
        texts: Vec<String>,
        prompt: Option<String>,
    ) -> Result<Encoded, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                texts,
                prompt,
                reply,
            })
            .map_err(|_| "the encoder thread has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the encoder thread has stopped".to_string())?
    }
}

fn run(encoder: &Encoder, jobs: &mpsc::Receiver<Job>, max_texts: usize, sizes: &Histogram) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut texts = first.texts.len();
        let mut batch = vec![first];
        while texts < max_texts {
            let Ok(job) = jobs.try_recv() else { break };
            if texts + job.texts.len() > max_texts {
                carried = Some(job);
                break;
            }
            texts += job.texts.len();
            batch.push(job);
        }
        // A request that gave up (timed out, client gone) is not encoded.
        batch.retain(|job| !job.reply.is_closed());
        sizes.observe(batch.iter().map(|j| j.texts.len()).sum::<usize>() as f64);
        encode_batch(encoder, batch);
    }
}

/// Vectors and token counts of `texts` prefixed by `prompt`, errors as messages.
pub(crate) fn encode_texts(
    encoder: &Encoder,
    texts: &[&str],
    prompt: Option<&str>,
) -> Result<Encoded, String> {
    let vectors = encoder
        .encode_prompted(texts, prompt, &mut |_| {})
        .map_err(|e| format!("encoding failed: {e}"))?;
    let tokens = encoder
        .token_counts_prompted(texts, prompt)
        .map_err(|e| format!("tokenizing failed: {e}"))?;
    Ok((vectors, tokens))
}

/// Encodes the batch's texts with one call per distinct prompt and hands each request its rows.
fn encode_batch(encoder: &Encoder, mut batch: Vec<Job>) {
    while !batch.is_empty() {
        let prompt = batch[0].prompt.clone();
        let (group, rest): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| job.prompt == prompt);
        batch = rest;
        let refs: Vec<&str> = group
            .iter()
            .flat_map(|job| job.texts.iter().map(String::as_str))
            .collect();
        let result = encode_texts(encoder, &refs, prompt.as_deref());
        let dim = encoder.dim();
        let mut start = 0;
        for job in group {
            let n = job.texts.len();
            let rows = result.as_ref().map_err(Clone::clone).map(|(v, t)| {
                (
                    v[start * dim..(start + n) * dim].to_vec(),
                    t[start..start + n].to_vec(),
                )
            });
            start += n;
            // The request may have given up meanwhile; its rows are dropped.
            let _ = job.reply.send(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trine_encoder::tiny::{write_tiny_model, TinySpec};
    use trine_encoder::EncoderOptions;

    /// Jobs queued before the thread looks are batched up to the bound, never split, grouped by
    /// prompt, and each request gets exactly the rows it would get encoded alone.
    #[test]
    fn queued_requests_share_batches_and_get_their_own_rows() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
        let encoder = Encoder::load(dir.path(), EncoderOptions::default()).unwrap();
        let words = [
            "the cat sat",
            "a dog",
            "the dog ran fast",
            "cat",
            "a cat ran",
        ];
        let requests: Vec<(Vec<String>, Option<String>)> = [3usize, 2, 4, 1, 9]
            .iter()
            .enumerate()
            .map(|(r, &n)| {
                let texts = (0..n)
                    .map(|i| words[(r + i) % words.len()].to_string())
                    .collect();
                (texts, (r % 2 == 1).then(|| "a ".to_string()))
            })
            .collect();
        let (queue, jobs) = mpsc::channel();
        let answers: Vec<_> = requests
            .iter()
            .map(|(texts, prompt)| {
                let (reply, answer) = oneshot::channel();
                let job = Job {
                    texts: texts.clone(),
                    prompt: prompt.clone(),
                    reply,
                };
                queue.send(job).unwrap();
                answer
            })
            .collect();
        drop(queue);
        let sizes = Histogram::with_opts(prometheus::HistogramOpts::new("t", "t")).unwrap();
        run(&encoder, &jobs, 8, &sizes);
        // 3 + 2 (4 would pass 8), 4 + 1 (9 would), then 9 alone.
        assert_eq!(sizes.get_sample_count(), 3);
        assert_eq!(sizes.get_sample_sum(), 19.0);
        for ((texts, prompt), mut answer) in requests.into_iter().zip(answers) {
            let (vectors, tokens) = answer.try_recv().unwrap().unwrap();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let alone = encoder
                .encode_prompted(&refs, prompt.as_deref(), &mut |_| {})
                .unwrap();
            let want_tokens = encoder
                .token_counts_prompted(&refs, prompt.as_deref())
                .unwrap();
            assert_eq!(tokens, want_tokens);
            assert_eq!(vectors.len(), alone.len());
            let diff = vectors
                .iter()
                .zip(&alone)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "{texts:?}: batched rows differ by {diff}");
        }
    }

    #[test]
    fn a_batch_bound_of_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
        let encoder = Arc::new(Encoder::load(dir.path(), EncoderOptions::default()).unwrap());
        let sizes = Histogram::with_opts(prometheus::HistogramOpts::new("t", "t")).unwrap();
        let err = Batcher::start(encoder, 0, sizes).err().unwrap();
        assert!(err.to_string().contains("--max-batch-texts"), "{err}");
    }
}
