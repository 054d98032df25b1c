//! Progress bars on stderr (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `unit`s, with rate and ETA.
pub fn bar(len: u64, message: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(message.to_string());
    pb
}

/// The pipeline's progress as bars on stderr, one per stage, and its notes as lines.
#[derive(Default)]
pub struct Bars {
    current: std::sync::Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(pb) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            f(pb);
        }
    }
}

impl trine_pipeline::Progress for Bars {
    fn begin(&self, stage: &str, total: u64, unit: &str) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar(total, stage, unit));
    }
    fn set(&self, done: u64) {
        self.with(|pb| pb.set_position(done));
    }
    fn advance(&self, n: u64) {
        self.with(|pb| pb.inc(n));
    }
    fn end(&self) {
        if let Some(pb) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            pb.finish_and_clear();
        }
    }
    fn note(&self, message: &str) {
        eprintln!("{message}");
    }
}
