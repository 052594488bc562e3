//! A fast, fixed (so deterministic) hasher for the hot lookups of tokenizing and grouping:
//! tens of millions of short-string and integer keys, where SipHash costs a third of the time.
//! Keys here are never attacker-chosen in a way that matters: a batch job over the office's own
//! exports, where the worst case of a collision flood is a slower run, not a wrong one.

use std::collections::{HashMap, HashSet};

/// A hash map with a fast, fixed (so deterministic) hasher for small integer and string keys:
/// the grouping does tens of millions of lookups, where SipHash is a third of the time.
pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// The Fx hash (as in rustc): multiply-rotate over machine words.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut rest = 0u64;
        for (i, b) in chunks.remainder().iter().enumerate() {
            rest |= (*b as u64) << (8 * i);
        }
        self.add(rest ^ bytes.len() as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // hashbrown picks the bucket from the low bits, and a multiply only carries upwards: the
        // low bits of `w * K` depend on the low bytes of `w` alone, so every CJK word that starts
        // with the same character would share a bucket (32 buckets for 1,000 such words). A
        // final fold-and-multiply (murmur3's fmix) brings the high bits down.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A set with the [`FxHasher`].
pub(crate) type FastSet<K> = HashSet<K, std::hash::BuildHasherDefault<FxHasher>>;

/// How many of the items `0..n` hold each key, item `i`'s keys listed by `keys_of(i)`,
/// counted on all cores: one map per thread, over its share of the items, merged pairwise.
/// Worth it where keys repeat (names over a million petitions: the merge is small); where
/// nearly every key is distinct the merge redoes the count, and one core's loop is as quick.
/// Items by index, as they are often kept in several lists side by side.
pub(crate) fn count_par<K, I>(
    n: usize,
    keys_of: impl Fn(usize) -> I + Sync + Send,
) -> FastMap<K, u32>
where
    K: std::hash::Hash + Eq + Send,
    I: IntoIterator<Item = K>,
{
    use rayon::prelude::*;
    // one share per thread: rayon's own splitting made a map per stolen piece, and as many
    // merges
    let share = n.div_ceil(rayon::current_num_threads().max(1)).max(1);
    (0..n.div_ceil(share))
        .into_par_iter()
        .map(|c| {
            let mut m: FastMap<K, u32> = FastMap::default();
            for i in c * share..((c + 1) * share).min(n) {
                for k in keys_of(i) {
                    *m.entry(k).or_insert(0) += 1;
                }
            }
            m
        })
        .reduce(FastMap::default, |a, b| {
            let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            for (k, n) in small {
                *big.entry(k).or_insert(0) += n;
            }
            big
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// Words that share their first character must not share their low hash bits (the bits
    /// hashbrown picks the bucket from): 1,000 such words spread over most of 1,024 buckets.
    #[test]
    fn words_with_one_first_character_spread_over_buckets() {
        let build = std::hash::BuildHasherDefault::<FxHasher>::default();
        let buckets: FastSet<u64> = ('\u{4E00}'..='\u{9FFF}')
            .take(1000)
            .map(|c| build.hash_one(format!("小{c}")) & 1023)
            .collect();
        assert!(buckets.len() > 600, "{} buckets", buckets.len());
    }

    /// The parallel count is the plain count, on any number of threads.
    #[test]
    fn count_par_counts_as_a_loop_does() {
        let items: Vec<Vec<u32>> = (0..5000u32).map(|i| vec![i % 7, i % 13, 100]).collect();
        let mut plain: FastMap<u32, u32> = FastMap::default();
        for it in &items {
            for k in it {
                *plain.entry(*k).or_insert(0) += 1;
            }
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| count_par(items.len(), |i| items[i].iter().copied()));
            assert_eq!(got, plain, "{threads} threads");
        }
        assert_eq!(plain[&100], 5000);
    }
}
