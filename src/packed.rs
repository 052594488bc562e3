//! [`Packed`]: a slice that shares one buffer with its neighbours, and [`runs`], how parts are
//! dealt to buffers (which [`crate::schema::Text`] packs by too).
//!
//! The grouping keeps one term vector and one top-term list per petition from the tagging pass
//! to the end. Made one `Vec` each on the thread pool, they sat in allocator pages beside the
//! tagging's words and token lists, which are freed at once: at a million generated petitions
//! the tagging left ~400 MiB more RSS than it held live (the allocator's collect and RssAnon
//! between the steps, a throwaway build). Packed a few thousand to a buffer, they are large
//! allocations that live and die whole, and the transients' pages go back.

use std::sync::Arc;

/// A `[T]` that is a range of a shared buffer (or of none, when empty).
pub(crate) struct Packed<T> {
    buf: Option<Arc<[T]>>,
    start: u32,
    len: u32,
}

impl<T> Packed<T> {
    /// Every part of `parts` as a range of one buffer (several when they pass `u32::MAX`
    /// items), in order.
    pub(crate) fn pack_all<'a>(parts: impl Iterator<Item = &'a [T]>) -> Vec<Packed<T>>
    where
        T: Copy + 'a,
    {
        let parts: Vec<&[T]> = parts.collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let mut out = Vec::with_capacity(parts.len());
        for run in runs(&lens, u32::MAX as usize) {
            let these = &parts[run];
            let joined: Vec<T> = these.concat();
            let buf: Option<Arc<[T]>> = (!joined.is_empty()).then(|| Arc::from(joined));
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
        out
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
            buf: (len > 0).then(|| Arc::from(v)),
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
        match &self.buf {
            Some(b) => {
                let start = self.start as usize;
                &b[start..start + self.len as usize]
            }
            None => &[],
        }
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

    #[test]
    fn packed_parts_keep_their_items_and_share_a_buffer() {
        let parts: Vec<Vec<u32>> = vec![vec![1, 2], vec![], vec![3], vec![4, 5, 6]];
        let packed = Packed::pack_all(parts.iter().map(|p| &p[..]));
        let back: Vec<Vec<u32>> = packed.iter().map(|p| p.to_vec()).collect();
        assert_eq!(back, parts);
        let (a, c) = (&packed[0], &packed[3]);
        assert!(Arc::ptr_eq(
            a.buf.as_ref().unwrap(),
            c.buf.as_ref().unwrap()
        ));
        assert!(packed[1].buf.is_none(), "an empty part holds nothing");
        assert_eq!(Packed::from(vec![3u32]), packed[2]);
        assert!(Packed::<u32>::pack_all(std::iter::empty()).is_empty());
        assert!(Packed::<u32>::from(Vec::new()).is_empty());
    }

    #[test]
    fn runs_keep_each_buffer_under_the_limit() {
        assert_eq!(runs(&[3, 0, 5, 1, 30, 1], 10), vec![0..4, 4..5, 5..6]);
        assert_eq!(runs(&[], 10), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(runs(&[12], 10), vec![0..1]);
    }
}
