//! [`Packed`]: a slice that shares one buffer with its neighbours, and [`runs`], how parts are
//! dealt to buffers (which [`crate::schema::Text`] packs by too).
//!
//! The grouping keeps one term vector and one top-term list per petition from the tagging pass
//! to the end. Made one `Vec` each on the thread pool, they sat in allocator pages beside the
//! tagging's words and token lists, which are freed at once: at a million generated petitions
//! the tagging left ~400 MiB more RSS than it held live (the allocator's collect and RssAnon
//! between the steps, a throwaway build). Packed a few thousand to a buffer, they are large
//! allocations that live and die whole, and the transients' pages go back.
//!
//! In `minqing run` the buffers go to the run's text file and are read from its mapping, as the
//! contents are (`textfile`): ~250 bytes a petition that the grouping reads pass by pass, which
//! the file's watcher hands back to the page cache while the grouping's other memory peaks.

use std::sync::Arc;

use crate::error::Result;
use crate::textfile::{Piece, TextFile};

/// Data that can be written to a file as its bytes and read back in place.
///
/// # Safety
/// The type has no padding bytes (every byte of a value is initialised, so a slice of them can
/// be read as bytes) and every bit pattern of its size is a valid value (bytes read back from a
/// file make a valid slice of it). Its alignment is at most a page.
pub(crate) unsafe trait Plain: Copy {
    /// The bytes of `items`, as they are in memory.
    fn bytes_of(items: &[Self]) -> &[u8] {
        // SAFETY: no padding (the trait's contract), so every byte of the slice is initialised;
        // the bytes borrow `items`.
        unsafe {
            std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items))
        }
    }

    /// The bytes of `items` to write to: any bytes written make valid items.
    fn bytes_of_mut(items: &mut [Self]) -> &mut [u8] {
        // SAFETY: no padding, so every byte is initialised; every bit pattern is a valid value
        // (the trait's contract), so whatever is written leaves valid items; the bytes borrow
        // `items` mutably.
        unsafe {
            std::slice::from_raw_parts_mut(
                items.as_mut_ptr().cast::<u8>(),
                std::mem::size_of_val(items),
            )
        }
    }
}

// SAFETY: four bytes, any bit pattern an integer.
unsafe impl Plain for u32 {}
// SAFETY: two four-byte fields make eight bytes, so no padding; every bit pattern is a `u32`
// and an `f32` (NaNs included).
unsafe impl Plain for (u32, f32) {}
// SAFETY: eight bytes, any bit pattern an integer.
unsafe impl Plain for u64 {}

/// Where a [`Packed`]'s buffer is. Held through one thin `Arc` ([`Packed::buf`]): a `Packed`
/// is 16 bytes, not the 32 of an `Arc<[T]>` (a fat pointer) beside a tag, and the grouping
/// holds two a petition from the tagging to the end (0.3 GB at ten million petitions), the
/// pair evidence one more.
enum Buf<T> {
    Heap(Box<[T]>),
    /// A mapped piece of the run's text file holding `[T]` as bytes, aligned for `T`
    /// ([`TextFile::put_bytes`]); only made for `T: Plain`.
    File(Arc<Piece>),
}

/// A `[T]` that is a range of a shared buffer (or of none, when empty).
pub(crate) struct Packed<T> {
    buf: Option<Arc<Buf<T>>>,
    start: u32,
    len: u32,
}

impl<T: Plain> Packed<T> {
    /// Every part of `parts` as a range of one buffer (several when they pass `u32::MAX`
    /// items), in order; the buffers are written to `file` and read from its mapping when one
    /// is given, else kept on the heap.
    pub(crate) fn pack_all<'a>(
        parts: impl Iterator<Item = &'a [T]>,
        file: Option<&TextFile>,
    ) -> Result<Vec<Packed<T>>>
    where
        T: 'a,
    {
        let parts: Vec<&[T]> = parts.collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let mut out = Vec::with_capacity(parts.len());
        for run in runs(&lens, u32::MAX as usize) {
            let these = &parts[run];
            let joined: Vec<T> = these.concat();
            let buf = match (joined.is_empty(), file) {
                (true, _) => None,
                (false, None) => Some(Arc::new(Buf::Heap(joined.into_boxed_slice()))),
                (false, Some(f)) => Some(Arc::new(Buf::File(
                    f.put_bytes(T::bytes_of(&joined), std::mem::align_of::<T>())?,
                ))),
            };
            let mut start = 0u32;
            for p in these {
                let len =
                    u32::try_from(p.len()).expect("a packed part holds fewer than 2^32 items");
                out.push(Packed {
                    buf: if len == 0 { None } else { buf.clone() },
                    start: if len == 0 { 0 } else { start },
                    len,
                });
                start += len;
            }
        }
        Ok(out)
    }
}

impl<T: Plain + Default> Packed<T> {
    /// The items, read from the run's text file with `pread` when they are in it, not through
    /// its mapping. For passes that read parts at random (a group's members, an object's
    /// petitions): a read of the mapping maps the kernel's fault-around (64 KiB) around a part
    /// of a few hundred bytes, and such passes mapped the file's pages faster than its watcher
    /// handed them back (`textfile`; 1.0–1.6 GB of the grouping at ten million petitions,
    /// docs/scale.md). A failed read falls back to the mapping.
    pub(crate) fn read(&self) -> Vec<T> {
        let Some(Buf::File(p)) = self.buf.as_deref() else {
            return self.to_vec();
        };
        let mut v = vec![T::default(); self.len as usize];
        let at = u64::from(self.start) * std::mem::size_of::<T>() as u64;
        match p.read_exact_at(T::bytes_of_mut(&mut v), at) {
            Ok(()) => v,
            Err(_) => self.to_vec(),
        }
    }

    /// A part of its own on the heap with the same items ([`Packed::read`]).
    pub(crate) fn detached(&self) -> Packed<T> {
        match self.buf.as_deref() {
            Some(Buf::File(_)) => self.read().into(),
            _ => self.clone(),
        }
    }
}

/// The runs of consecutive parts (of lengths `lens`) that share a buffer, in order: each as
/// many as keep the buffer under `limit` items, a part of `limit` or more alone.
pub(crate) fn runs(lens: &[usize], limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while from < lens.len() {
        let (mut to, mut total) = (from + 1, lens[from]);
        while to < lens.len() && total + lens[to] < limit {
            total += lens[to];
            to += 1;
        }
        out.push(from..to);
        from = to;
    }
    out
}

impl<T> Default for Packed<T> {
    fn default() -> Self {
        Packed {
            buf: None,
            start: 0,
            len: 0,
        }
    }
}

impl<T> Clone for Packed<T> {
    fn clone(&self) -> Self {
        Packed {
            buf: self.buf.clone(),
            start: self.start,
            len: self.len,
        }
    }
}

impl<T> From<Vec<T>> for Packed<T> {
    /// A buffer of its own; only a part longer than `u32::MAX` items would not fit, and a
    /// petition's terms are a few dozen.
    fn from(v: Vec<T>) -> Self {
        let len = u32::try_from(v.len()).expect("a packed part holds fewer than 2^32 items");
        Packed {
            buf: (len > 0).then(|| Arc::new(Buf::Heap(v.into_boxed_slice()))),
            start: 0,
            len,
        }
    }
}

impl<T> FromIterator<T> for Packed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        items.into_iter().collect::<Vec<T>>().into()
    }
}

impl<T> std::ops::Deref for Packed<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        let all: &[T] = match self.buf.as_deref() {
            Some(Buf::Heap(b)) => b,
            Some(Buf::File(p)) => {
                let bytes = p.as_bytes();
                // SAFETY: a `File` buffer is only made by `pack_all` for `T: Plain`, from the
                // bytes of a `[T]`, written at an offset aligned for `T` and mapped at an address
                // aligned the same way (`TextFile::put_bytes`); any bytes are a valid `T`, and
                // the mapping is read-only and lives as long as `p`.
                unsafe {
                    std::slice::from_raw_parts(
                        bytes.as_ptr().cast::<T>(),
                        bytes.len() / std::mem::size_of::<T>(),
                    )
                }
            }
            None => return &[],
        };
        let start = self.start as usize;
        &all[start..start + self.len as usize]
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Packed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for Packed<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heap buffer two packed parts share.
    fn heap_of<T>(p: &Packed<T>) -> &Arc<Buf<T>> {
        match &p.buf {
            Some(b) if matches!(**b, Buf::Heap(_)) => b,
            _ => panic!("not on the heap"),
        }
    }

    #[test]
    fn packed_parts_keep_their_items_and_share_a_buffer() {
        let parts: Vec<Vec<u32>> = vec![vec![1, 2], vec![], vec![3], vec![4, 5, 6]];
        let packed = Packed::pack_all(parts.iter().map(|p| &p[..]), None).unwrap();
        let back: Vec<Vec<u32>> = packed.iter().map(|p| p.to_vec()).collect();
        assert_eq!(back, parts);
        assert!(Arc::ptr_eq(heap_of(&packed[0]), heap_of(&packed[3])));
        assert!(packed[1].buf.is_none(), "an empty part holds nothing");
        assert_eq!(
            std::mem::size_of::<Packed<(u32, f32)>>(),
            16,
            "a thin pointer"
        );
        assert_eq!(Packed::from(vec![3u32]), packed[2]);
        assert!(Packed::<u32>::pack_all(std::iter::empty(), None)
            .unwrap()
            .is_empty());
        assert!(Packed::<u32>::from(Vec::new()).is_empty());
    }

    #[test]
    fn parts_packed_to_a_file_read_back_in_place_after_a_trim() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        // a text of odd length first, so the vectors' offset has to be aligned
        file.put("信访件").unwrap();
        let parts: Vec<Vec<(u32, f32)>> = (0..300u32)
            .map(|i| {
                (0..i % 7)
                    .map(|t| (i * 7 + t, (i + t) as f32 / 3.0))
                    .collect()
            })
            .collect();
        let tops: Vec<Vec<u32>> = (0..300u32).map(|i| vec![i; (i % 3) as usize]).collect();
        file.put("。").unwrap();
        let packed = Packed::pack_all(parts.iter().map(|p| &p[..]), Some(&file)).unwrap();
        let packed_tops = Packed::pack_all(tops.iter().map(|p| &p[..]), Some(&file)).unwrap();
        assert!(matches!(packed[1].buf.as_deref(), Some(Buf::File(_))));
        file.trim();
        for (p, want) in packed.iter().zip(&parts) {
            assert_eq!(&p[..], &want[..]);
        }
        for (p, want) in packed_tops.iter().zip(&tops) {
            assert_eq!(&p[..], &want[..]);
        }
        assert_eq!(
            packed[8],
            Packed::from(parts[8].clone()),
            "equal wherever they are"
        );
        // read with pread, not through the mapping: the same items, on the heap
        for (p, want) in packed.iter().zip(&parts) {
            assert_eq!(p.read(), *want);
            let d = p.detached();
            assert_eq!(&d[..], &want[..]);
            assert!(!matches!(d.buf.as_deref(), Some(Buf::File(_))));
        }
        for (p, want) in packed_tops.iter().zip(&tops) {
            assert_eq!(p.read(), *want);
        }
    }

    #[test]
    fn runs_keep_each_buffer_under_the_limit() {
        assert_eq!(runs(&[3, 0, 5, 1, 30, 1], 10), vec![0..4, 4..5, 5..6]);
        assert_eq!(runs(&[], 10), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(runs(&[12], 10), vec![0..1]);
    }
}
