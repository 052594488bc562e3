//! What minqing asks of the operating system beyond files: the process's peak memory, for the
//! whole run and per stage.

use std::sync::atomic::{AtomicU64, Ordering};

/// The highest `VmHWM` seen before a [`reset_stage_peak`]: the process's peak survives them.
static EARLIER_PEAK: AtomicU64 = AtomicU64::new(0);

/// Linux's `VmHWM` (peak resident memory since the start or the last reset), in bytes.
fn vm_hwm() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident memory of this process so far, in bytes (Linux); None elsewhere.
pub fn peak_rss_bytes() -> Option<u64> {
    Some(vm_hwm()?.max(EARLIER_PEAK.load(Ordering::Relaxed)))
}

/// Peak resident memory since the last [`reset_stage_peak`] (or the start), in bytes.
pub fn stage_peak_bytes() -> Option<u64> {
    vm_hwm()
}

/// Starts measuring a stage's own peak: Linux (4.0 on) sets `VmHWM` back to the resident memory
/// of the moment when "5" is written to `/proc/self/clear_refs` — the only way to see which
/// stage holds the run's peak (issue 18: where the memory of a 10M run goes). False where the
/// reset is not possible; [`peak_rss_bytes`] stays the whole process's either way.
pub fn reset_stage_peak() -> bool {
    if let Some(now) = vm_hwm() {
        EARLIER_PEAK.fetch_max(now, Ordering::Relaxed);
    }
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }

    #[test]
    fn a_stage_peak_starts_again_and_the_process_peak_stays() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // 256 MiB touched, then let go
        let big = vec![1u8; 256 << 20];
        assert!(big.iter().step_by(4096).all(|&b| b == 1));
        drop(big);
        let whole = super::peak_rss_bytes().unwrap();
        assert!(whole >= 256 << 20, "{whole}");
        if super::reset_stage_peak() {
            assert!(super::stage_peak_bytes().unwrap() < whole);
        }
        assert!(super::peak_rss_bytes().unwrap() >= whole);
    }
}
