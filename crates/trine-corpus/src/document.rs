/// One document of a corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Unique id within the corpus.
    pub id: String,
    /// Title; empty when the source has none.
    pub title: String,
    /// Body text.
    pub text: String,
}

impl Document {
    /// The text that gets embedded: `title + " " + text`, trimmed, as BEIR and MTEB do.
    pub fn full_text(&self) -> String {
        if self.title.is_empty() {
            self.text.trim().to_string()
        } else {
            format!("{} {}", self.title, self.text).trim().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_text_joins_title_and_text_with_one_space() {
        let d = Document {
            id: "1".into(),
            title: "Title".into(),
            text: "Body.".into(),
        };
        assert_eq!(d.full_text(), "Title Body.");
        let d = Document {
            id: "1".into(),
            title: String::new(),
            text: " Body. ".into(),
        };
        assert_eq!(d.full_text(), "Body.");
    }
}
