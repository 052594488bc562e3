//! Panic containment for third-party parsers reading untrusted files.

use std::path::Path;

use super::convert::short_to;
use crate::error::{Error, Result};

thread_local! {
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a third-party parser whose panic [`contain`] turns into an
/// error; the binary's panic hook stays quiet then, so the user sees only that one error line.
pub fn panic_is_contained() -> bool {
    CONTAINED.get()
}

/// Runs a third-party parser (calamine, polars) over an untrusted file, turning a panic inside it
/// into an error naming the file: a corrupt export is that file's problem, not a crash of the
/// run. (calamine 0.31 indexes shared strings unchecked, so `<c t="s"><v>99</v></c>` in a
/// workbook with fewer strings panics.) Our own readers are not wrapped: the fuzz tests must see
/// their panics.
pub(super) fn contain<T>(path: &Path, reader: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = CONTAINED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.set(outer);
    result.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(Error::BadInput {
            path: path.to_path_buf(),
            message: format!(
                "{reader} failed on this file ({}): it is corrupt; re-export it",
                one_line(why)
            ),
        })
    })
}

/// A third-party parser's message as one short line: they quote the offending input, which in a
/// corrupt file can be any length and hold line breaks, and an error is printed as one line.
pub(super) fn one_line(msg: impl std::fmt::Display) -> String {
    let flat = msg
        .to_string()
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    short_to(&flat, 300)
}
