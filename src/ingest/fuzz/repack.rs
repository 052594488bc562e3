//! Zip plumbing for the xlsx fuzzing: unpack the workbook rust_xlsxwriter wrote, mutate its XML
//! parts, and pack them again (stored) with correct checksums, so the mutations reach calamine's
//! XML reading instead of stopping at a CRC mismatch. The `zip` crate (the one `brief.docx`'s
//! test reads with) does the reading and writing.

use std::io::{Cursor, Read, Write};

/// The little-endian u32 at `i` (the corpus writer corrupts zip headers by offset).
pub(super) fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize
}

/// The entries of a well-formed zip, as (name, content), in archive order.
pub(super) fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).expect("a well-formed zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("a readable entry");
            let mut content = Vec::new();
            entry
                .read_to_end(&mut content)
                .expect("an entry that inflates");
            (entry.name().to_string(), content)
        })
        .collect()
}

/// A zip of `parts`, stored (uncompressed), with correct CRCs and a fixed date (reproducible
/// bytes).
pub(super) fn zip_stored(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let options = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Stored)
        .last_modified_time(::zip::DateTime::default());
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts {
        w.start_file(name.as_str(), options).expect("a zip entry");
        w.write_all(data).expect("written to memory");
    }
    w.finish().expect("a finished zip").into_inner()
}
