//! Zip plumbing for the xlsx fuzzing: unpack the workbook rust_xlsxwriter wrote, mutate its XML
//! parts, and pack them again (stored) with correct checksums, so the mutations reach calamine's XML
//! reading instead of stopping at a CRC mismatch.

use std::sync::LazyLock;

pub(super) fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: LazyLock<[u32; 256]> = LazyLock::new(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in bytes {
        c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn u16_at(b: &[u8], i: usize) -> usize {
    u16::from_le_bytes([b[i], b[i + 1]]) as usize
}

pub(super) fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize
}

/// Inflates a raw deflate stream (RFC 1951), for unpacking the workbook rust_xlsxwriter wrote.
/// Test code for well-formed input only: it panics on anything else.
pub(super) fn inflate(data: &[u8]) -> Vec<u8> {
    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
        buf: u64,
        count: u32,
    }
    impl Bits<'_> {
        fn get(&mut self, n: u32) -> usize {
            while self.count < n {
                self.buf |= (self.data[self.pos] as u64) << self.count;
                self.pos += 1;
                self.count += 8;
            }
            let v = self.buf & ((1u64 << n) - 1);
            self.buf >>= n;
            self.count -= n;
            v as usize
        }
    }
    /// Canonical Huffman code: codes per length and the symbols in code order.
    struct Huffman {
        counts: [u16; 16],
        symbols: Vec<u16>,
    }
    impl Huffman {
        fn new(lengths: &[u8]) -> Huffman {
            let mut counts = [0u16; 16];
            for &l in lengths {
                counts[l as usize] += 1;
            }
            counts[0] = 0;
            let mut offs = [0u16; 16];
            for l in 1..15 {
                offs[l + 1] = offs[l] + counts[l];
            }
            let mut symbols = vec![0u16; lengths.len()];
            for (s, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    symbols[offs[l as usize] as usize] = s as u16;
                    offs[l as usize] += 1;
                }
            }
            Huffman { counts, symbols }
        }
        fn decode(&self, bits: &mut Bits) -> usize {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..16 {
                code |= bits.get(1) as i32;
                let count = self.counts[len] as i32;
                if code - count < first {
                    return self.symbols[(index + code - first) as usize] as usize;
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            panic!("bad Huffman code");
        }
    }
    const LBASE: [usize; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LEXT: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DBASE: [usize; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DEXT: [u32; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];
    let mut bits = Bits {
        data,
        pos: 0,
        buf: 0,
        count: 0,
    };
    let mut out: Vec<u8> = Vec::new();
    loop {
        let last = bits.get(1) == 1;
        match bits.get(2) {
            0 => {
                // Stored: skip to the byte boundary, then LEN, NLEN and the bytes.
                bits.buf = 0;
                bits.count = 0;
                let p = bits.pos;
                let len = u16_at(data, p);
                out.extend_from_slice(&data[p + 4..p + 4 + len]);
                bits.pos = p + 4 + len;
            }
            kind @ (1 | 2) => {
                let (lit, dist) = if kind == 1 {
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    (Huffman::new(&l), Huffman::new(&[5u8; 30]))
                } else {
                    let nlen = bits.get(5) + 257;
                    let ndist = bits.get(5) + 1;
                    let ncode = bits.get(4) + 4;
                    const ORDER: [usize; 19] = [
                        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                    ];
                    let mut cl = [0u8; 19];
                    for &o in &ORDER[..ncode] {
                        cl[o] = bits.get(3) as u8;
                    }
                    let clh = Huffman::new(&cl);
                    let mut lengths = Vec::with_capacity(nlen + ndist);
                    while lengths.len() < nlen + ndist {
                        match clh.decode(&mut bits) {
                            s @ 0..=15 => lengths.push(s as u8),
                            16 => {
                                let prev = *lengths.last().unwrap();
                                let n = 3 + bits.get(2);
                                lengths.extend(std::iter::repeat_n(prev, n));
                            }
                            17 => {
                                let n = 3 + bits.get(3);
                                lengths.extend(std::iter::repeat_n(0, n));
                            }
                            _ => {
                                let n = 11 + bits.get(7);
                                lengths.extend(std::iter::repeat_n(0, n));
                            }
                        }
                    }
                    (
                        Huffman::new(&lengths[..nlen]),
                        Huffman::new(&lengths[nlen..]),
                    )
                };
                loop {
                    let sym = lit.decode(&mut bits);
                    if sym < 256 {
                        out.push(sym as u8);
                    } else if sym == 256 {
                        break;
                    } else {
                        let s = sym - 257;
                        let len = LBASE[s] + bits.get(LEXT[s]);
                        let d = dist.decode(&mut bits);
                        let back = DBASE[d] + bits.get(DEXT[d]);
                        let start = out.len() - back;
                        for k in 0..len {
                            out.push(out[start + k]);
                        }
                    }
                }
            }
            _ => panic!("reserved deflate block type"),
        }
        if last {
            return out;
        }
    }
}

/// The entries of a well-formed zip, as (name, content).
pub(super) fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let eocd = (0..=zip.len() - 22)
        .rev()
        .find(|&i| zip[i..i + 4] == [0x50, 0x4B, 0x05, 0x06])
        .expect("end of central directory");
    let entries = u16_at(zip, eocd + 10);
    let mut at = u32_at(zip, eocd + 16);
    let mut out = Vec::new();
    for _ in 0..entries {
        assert_eq!(zip[at..at + 4], [0x50, 0x4B, 0x01, 0x02]);
        let method = u16_at(zip, at + 10);
        let csize = u32_at(zip, at + 20);
        let usize_ = u32_at(zip, at + 24);
        let (n, e, c) = (
            u16_at(zip, at + 28),
            u16_at(zip, at + 30),
            u16_at(zip, at + 32),
        );
        let local = u32_at(zip, at + 42);
        let name = String::from_utf8(zip[at + 46..at + 46 + n].to_vec()).unwrap();
        at += 46 + n + e + c;
        let data_at = local + 30 + u16_at(zip, local + 26) + u16_at(zip, local + 28);
        let data = &zip[data_at..data_at + csize];
        let content = match method {
            0 => data.to_vec(),
            8 => inflate(data),
            m => panic!("{name}: zip method {m}"),
        };
        assert_eq!(content.len(), usize_, "{name}");
        out.push((name, content));
    }
    out
}

/// A zip of `parts`, stored (uncompressed), with correct CRCs.
pub(super) fn zip_stored(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in parts {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let head = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes()); // made by
            }
            h.extend(20u16.to_le_bytes()); // needed to extract
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(0u16.to_le_bytes()); // stored
            h.extend(0u32.to_le_bytes()); // time, date
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central {
                h.extend([0u8; 6]); // comment length, disk, internal attributes
                h.extend(0u32.to_le_bytes()); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(head(0x0403_4B50, false));
        out.extend(data);
        central.extend(head(0x0201_4B50, true));
    }
    let cd_at = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4B50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((parts.len() as u16).to_le_bytes());
    out.extend((parts.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}
