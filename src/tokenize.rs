//! Tokenize: one jieba-rs segmenter with the petition-domain dictionary and stopwords, built once
//! and shared by the index and by clustering so that search and grouping see the same words.
//!
//! In: text. Out: words (for analysis), tokens with offsets (for the index), POS tags (for anchors).
//! The bundled dictionary and stopwords (`data/dict/`) are compiled into the binary, so a run needs
//! no files beside it; a pipeline may add dictionaries and stopword lists of its own.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use jieba_rs::{Jieba, TokenizeMode};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The bundled petition-domain user dictionary (`word [freq] [tag]` per line).
pub const BUNDLED_DICT: &str = include_str!("../data/dict/petition.dict");
/// The bundled stopword list.
pub const BUNDLED_STOPWORDS: &str = include_str!("../data/dict/stopwords.txt");

/// `[tokenize]` in a pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Use the bundled petition dictionary (`data/dict/petition.dict`).
    pub bundled_dict: bool,
    /// Extra user dictionaries (a city's estates, roads, companies), `word [freq] [tag]` per line.
    pub dicts: Vec<PathBuf>,
    /// Use the bundled stopword list (`data/dict/stopwords.txt`).
    pub bundled_stopwords: bool,
    /// Extra stopword lists, one word per line.
    pub stopwords: Vec<PathBuf>,
    /// Let jieba's HMM guess words missing from the dictionaries (names, new estates).
    pub hmm: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bundled_dict: true,
            dicts: Vec::new(),
            bundled_stopwords: true,
            stopwords: Vec::new(),
            hmm: true,
        }
    }
}

impl Options {
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        for p in self.dicts.iter_mut().chain(self.stopwords.iter_mut()) {
            *p = base.join(&*p);
        }
    }
}

/// A token with its position in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Lower-cased word.
    pub text: String,
    /// Byte offsets in the original text.
    pub byte_start: usize,
    pub byte_end: usize,
    /// Ordinal position (words of one search-mode span share the position of their longest word).
    pub position: usize,
}

/// Jieba plus dictionaries and stopwords. Build once, share by reference (it is `Sync`).
pub struct Tokenizer {
    jieba: Jieba,
    stopwords: crate::fxhash::FastSet<String>,
    hmm: bool,
    fingerprint: String,
}

impl Tokenizer {
    /// Builds the tokenizer: jieba's own dictionary, then the bundled and extra user dictionaries.
    pub fn new(opts: &Options) -> Result<Tokenizer> {
        let mut jieba = Jieba::new();
        let mut fp = format!("jieba-rs 0.11 hmm={}\n", opts.hmm);
        if opts.bundled_dict {
            add_dict(
                &mut jieba,
                BUNDLED_DICT,
                Path::new("data/dict/petition.dict"),
            )?;
            fp.push_str(BUNDLED_DICT);
        }
        for p in &opts.dicts {
            let text = std::fs::read_to_string(p).map_err(Error::io("read dictionary", p))?;
            add_dict(&mut jieba, &text, p)?;
            fp.push_str(&text);
        }
        let mut stopwords = crate::fxhash::FastSet::default();
        let mut lists: Vec<String> = Vec::new();
        if opts.bundled_stopwords {
            lists.push(BUNDLED_STOPWORDS.to_string());
        }
        for p in &opts.stopwords {
            lists.push(std::fs::read_to_string(p).map_err(Error::io("read stopword list", p))?);
        }
        for text in &lists {
            fp.push_str("\u{0}stop\n");
            fp.push_str(text);
            for line in text.lines() {
                let w = line.trim();
                if !w.is_empty() && !w.starts_with('#') {
                    stopwords.insert(fold(w));
                }
            }
        }
        Ok(Tokenizer {
            jieba,
            stopwords,
            hmm: opts.hmm,
            fingerprint: crate::fsutil::sha256_bytes(fp.as_bytes()),
        })
    }

    /// A hash of everything that changes segmentation (dictionaries, stopwords, HMM), stored with
    /// the index so a dictionary change forces a rebuild.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether `word` (lower-cased) is a stopword.
    pub fn is_stopword(&self, word: &str) -> bool {
        self.stopwords.contains(word)
    }

    /// Content words of `text` in order: jieba's precise mode, lower-cased, with stopwords,
    /// punctuation, whitespace and bare numbers dropped. What clustering reads.
    pub fn words(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_word(text, |w| out.push(w.to_string()));
        out
    }

    /// [`words`](Self::words) without allocating a `String` per word: calls `f` with each
    /// folded content word in order (the indexer writes them straight into one buffer).
    pub fn for_each_word(&self, text: &str, mut f: impl FnMut(&str)) {
        let mut buf = String::new();
        for t in self.jieba.cut(text, self.hmm) {
            let w = t.word.trim();
            if !is_content(w) {
                continue;
            }
            buf.clear();
            buf.extend(w.chars().map(fold_char));
            if !self.stopwords.contains(buf.as_str()) {
                f(&buf);
            }
        }
    }

    /// Words of `text` with their POS tags (`ns` place, `nt` organisation, `nr` person, …),
    /// punctuation and whitespace dropped, stopwords kept (anchor patterns need them).
    pub fn tag(&self, text: &str) -> Vec<(String, String)> {
        self.tag_ref(text)
            .into_iter()
            .map(|(w, t)| (w.to_string(), t.to_string()))
            .collect()
    }

    /// [`Tokenizer::tag`] without copying: the words are slices of `text`. The grouping tags a
    /// million petitions; two string copies per word were a third of its time.
    pub fn tag_ref<'a>(&'a self, text: &'a str) -> Vec<(&'a str, &'a str)> {
        self.jieba
            .tag(text, self.hmm)
            .into_iter()
            .filter(|t| is_content(t.word.trim()) || t.word.chars().any(is_letter_or_digit))
            .map(|t| (t.word, t.tag))
            .collect()
    }

    /// Search-mode tokens with byte offsets, for the index: every word of the precise cut, plus
    /// the dictionary words inside long words (`不动产权证` also yields `产权`), all at the
    /// position of the word that contains them, so phrase queries keep working. Stopwords are kept
    /// (phrases must match exactly); only whitespace and punctuation are dropped.
    pub fn index_tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let mut position = 0usize;
        let mut last_end = 0usize;
        let mut started = false;
        for t in self.jieba.tokenize(text, TokenizeMode::Search, self.hmm) {
            let w = t.word;
            if !w.chars().any(is_letter_or_digit) {
                continue;
            }
            // Search mode lists sub-words of a long word before the word itself; a token that
            // starts before the last long word ended belongs to the same span.
            if started && t.byte_start >= last_end {
                position += 1;
            }
            started = true;
            last_end = last_end.max(t.byte_end);
            out.push(Token {
                text: w.to_lowercase(),
                byte_start: t.byte_start,
                byte_end: t.byte_end,
                position,
            });
        }
        out
    }

    /// The jieba segmenter itself, for stages that need its other modes.
    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// Whether HMM discovery is on.
    pub fn hmm(&self) -> bool {
        self.hmm
    }
}

/// Folds one character the way search compares text: ASCII and full-width Latin letters, digits
/// and punctuation to lower-case half-width (`Ｂ` → `b`, `，` → `,`), every whitespace character
/// (incl. the ideographic space) to `' '`, other letters to their one-character lower case.
/// Always one character in, one character out, so character offsets survive folding.
pub fn fold_char(c: char) -> char {
    match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        c if c.is_ascii() && !c.is_ascii_whitespace() => c,
        // Han characters (most of every text) have no case and are not blanks: skip the Unicode
        // table look-ups below, which were a visible share of indexing time.
        c if is_han(c) => c,
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0)
            .map(|h| h.to_ascii_lowercase())
            .unwrap_or(c),
        c if c.is_whitespace() => ' ',
        c if c.is_ascii() => c,
        c => {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        }
    }
}

/// [`fold_char`] over a string (same number of characters).
pub fn fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// CJK Unified Ideographs and extension A: caseless letters, the bulk of petition text.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// `char::is_alphanumeric`, answered by a range check for Han characters: the standard
/// library looks every non-ASCII character up in its Unicode tables (`lookup_slow`, 1.6% of a
/// run's CPU samples at 200k rows, from the pair evidence's shingles and title fragments).
pub(crate) fn is_letter_or_digit(c: char) -> bool {
    is_han(c) || c.is_alphanumeric()
}

/// A word worth keeping: has a letter or CJK character and is not a bare number.
pub(crate) fn is_content(w: &str) -> bool {
    !w.is_empty()
        && w.chars().any(is_letter_or_digit)
        && !w
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '%')
}

/// Adds user-dictionary entries without lowering jieba's own frequencies: an entry whose word
/// jieba already knows keeps the larger of the two frequencies.
fn add_dict(jieba: &mut Jieba, text: &str, path: &Path) -> Result<()> {
    for (i, line) in std::io::Cursor::new(text).lines().enumerate() {
        let line = line.map_err(Error::io("read dictionary", path))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let word = parts.next().unwrap_or_default();
        let mut tag = None;
        let mut freq = None;
        for p in parts {
            match p.parse::<usize>() {
                Ok(f) if freq.is_none() => freq = Some(f),
                _ if tag.is_none() => tag = Some(p),
                _ => {
                    return Err(Error::BadCell {
                        path: path.to_path_buf(),
                        row: i as u64 + 1,
                        column: "entry".into(),
                        message: format!("expected `word [freq] [tag]`, got `{line}`"),
                    })
                }
            }
        }
        let freq = if jieba.has_word(word) {
            // suggest_freq never returns less than the frequency jieba already has.
            let existing = jieba.suggest_freq(word);
            freq.map_or(existing, |f| f.max(existing))
        } else {
            freq.unwrap_or_else(|| jieba.suggest_freq(word))
        };
        jieba.add_word(word, Some(freq), tag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    static TOK: LazyLock<Tokenizer> =
        LazyLock::new(|| Tokenizer::new(&Options::default()).unwrap());

    #[test]
    fn domain_words_stay_whole() {
        let w = TOK.words("小区房产证一直办不下来，农民工工资被拖欠，物业费太高");
        assert!(w.contains(&"房产证".to_string()), "{w:?}");
        assert!(w.contains(&"农民工工资".to_string()), "{w:?}");
        assert!(w.contains(&"物业费".to_string()), "{w:?}");
    }

    #[test]
    fn stopwords_and_punctuation_dropped() {
        let w = TOK.words("尊敬的领导：您好！我们希望尽快解决。");
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn user_dict_never_lowers_jieba_frequency() {
        let plain = Jieba::new();
        let before = plain.suggest_freq("公交车");
        assert!(TOK.jieba().suggest_freq("公交车") >= before);
    }

    #[test]
    fn fold_keeps_char_count() {
        let s = "ＡＢＣ油烟机　Abc，１２３\t\n";
        assert_eq!(fold(s), "abc油烟机 abc,123  ");
        assert_eq!(fold(s).chars().count(), s.chars().count());
        assert_eq!(fold_char('İ'), 'İ'); // lower case is two chars: kept as is
    }

    #[test]
    fn han_fast_path_agrees_with_unicode_tables() {
        for c in ('\u{3400}'..='\u{4DBF}').chain('\u{4E00}'..='\u{9FFF}') {
            assert!(is_han(c) && c.is_alphanumeric() && !c.is_whitespace());
            assert_eq!(c.to_lowercase().collect::<String>(), c.to_string());
            assert_eq!(fold_char(c), c);
        }
        assert!(!is_han('a') && !is_han('\u{3000}') && !is_han('，'));
        // the fast path answers exactly what the Unicode tables answer, for every character
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_letter_or_digit(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn index_tokens_cover_offsets() {
        let text = "不动产权证办理，ABC油烟机";
        for t in TOK.index_tokens(text) {
            assert_eq!(&text[t.byte_start..t.byte_end].to_lowercase(), &t.text);
        }
    }

    proptest::proptest! {
        /// Tokenizing loses no character: jieba's words rejoin to the original text, and every
        /// search-mode token's byte range lies on character boundaries and spells the token.
        #[test]
        fn tokens_cover_the_text(text in "[小区物业费房产证停水油烟机abcXYZ09０９，。！ \\t\\n🙂\\u{3000}-]{0,60}") {
            let rejoined: String = TOK
                .jieba()
                .cut(&text, TOK.hmm())
                .iter()
                .map(|t| t.word)
                .collect();
            proptest::prop_assert_eq!(&rejoined, &text);
            for t in TOK.index_tokens(&text) {
                proptest::prop_assert!(text.is_char_boundary(t.byte_start) && text.is_char_boundary(t.byte_end));
                proptest::prop_assert_eq!(text[t.byte_start..t.byte_end].to_lowercase(), t.text.clone());
            }
            for w in TOK.words(&text) {
                proptest::prop_assert!(fold(&text).contains(&w), "{} not in {}", w, text);
            }
        }
    }
}
