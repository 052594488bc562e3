//! What the classifier sees of a petition: three blocks of TF-IDF features, each scaled to unit
//! length — the words jieba finds in title and content (the shared tokenizer), the characters
//! and character pairs and triples of title and content (they catch words jieba splits
//! differently, names it does not know, and short petitions), and the characters and pairs of
//! the title alone (a title names the matter in a few words, so it counts once more on its
//! own). Term frequencies are damped (1 + ln tf) so a long letter does not outvote its title.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::svm::Sparse;
use crate::tokenize::{fold_char, Tokenizer};

/// Longest character n-gram of title + content.
const CHAR_N: usize = 3;
/// Longest character n-gram of the title block.
const TITLE_N: usize = 2;

/// The raw terms of one petition by block, before weighting.
pub(super) fn terms(tok: &Tokenizer, title: &str, content: &str) -> [Vec<String>; 3] {
    let text = format!("{title} {content}");
    let mut words = Vec::new();
    tok.for_each_word(&text, |w| words.push(format!("w:{w}")));
    [
        words,
        char_grams(&text, CHAR_N, "c:"),
        char_grams(title, TITLE_N, "t:"),
    ]
}

/// Character 1..=n-grams of the text, folded, none spanning white space.
fn char_grams(text: &str, n: usize, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text.split(char::is_whitespace).filter(|s| !s.is_empty()) {
        let chars: Vec<char> = run.chars().map(fold_char).collect();
        for i in 0..chars.len() {
            for k in 1..=n.min(chars.len() - i) {
                let mut s = String::from(prefix);
                s.extend(&chars[i..i + k]);
                out.push(s);
            }
        }
    }
    out
}

/// Feature index and IDF of every term seen in training.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Term → (index, idf), sorted by term (the model file is byte-identical for the same data).
    pub terms: BTreeMap<String, (u32, f32)>,
}

impl Vocabulary {
    /// The vocabulary of `docs` (terms of at least `min_df` documents), with smoothed IDF
    /// `ln((1 + n) / (1 + df)) + 1`.
    pub(super) fn build(docs: &[[Vec<String>; 3]], min_df: usize) -> Vocabulary {
        let mut df: BTreeMap<&str, usize> = BTreeMap::new();
        for d in docs {
            let mut seen: Vec<&str> = d.iter().flatten().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
        }
        let n = docs.len() as f64;
        let terms = df
            .into_iter()
            .filter(|(_, c)| *c >= min_df)
            .enumerate()
            .map(|(i, (t, c))| {
                let idf = ((1.0 + n) / (1.0 + c as f64)).ln() + 1.0;
                (t.to_string(), (i as u32, idf as f32))
            })
            .collect();
        Vocabulary { terms }
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The weighted vector of one petition's terms: each block TF-IDF, unit length.
    pub(super) fn vector(&self, blocks: &[Vec<String>; 3]) -> Sparse {
        let mut out: Sparse = Vec::new();
        for block in blocks {
            let mut tf: BTreeMap<u32, (f32, f32)> = BTreeMap::new();
            for t in block {
                if let Some(&(i, idf)) = self.terms.get(t) {
                    tf.entry(i).or_insert((0.0, idf)).0 += 1.0;
                }
            }
            let start = out.len();
            out.extend(
                tf.into_iter()
                    .map(|(i, (c, idf))| (i, (1.0 + c.ln()) * idf)),
            );
            let norm = out[start..].iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                for (_, v) in &mut out[start..] {
                    *v /= norm;
                }
            }
        }
        // Blocks use distinct term prefixes, so an index occurs in one block only.
        out.sort_unstable_by_key(|(i, _)| *i);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_grams_stay_within_runs() {
        let g = char_grams("ab c", 2, "c:");
        assert_eq!(g, ["c:a", "c:ab", "c:b", "c:c"]);
    }

    #[test]
    fn blocks_have_unit_length() {
        let docs = vec![
            [vec!["w:a".into(), "w:b".into()], vec!["c:x".into()], vec![]],
            [vec!["w:a".into()], vec!["c:y".into()], vec!["t:z".into()]],
        ];
        let v = Vocabulary::build(&docs, 1);
        let x = v.vector(&docs[0]);
        let total: f32 = x.iter().map(|(_, v)| v * v).sum();
        // Two non-empty blocks of unit length each.
        assert!((total - 2.0).abs() < 1e-5, "{total}");
    }
}
