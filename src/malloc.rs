//! Process-wide settings of the C allocator, applied once at the start of `main`, and
//! the return of the memory it holds free once a burst has freed some.

use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often the process's resident memory is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Resident memory not in use, grown since it was least, that is worth a release: at most
/// this much stays resident after a burst, and at rest the resident size moves by a few
/// pages, well under it.
const RELEASE_AFTER: usize = 256 << 10;

/// Blocks of 128 KiB and more get a mapping of their own, returned to the system when
/// freed: glibc's documented default, pinned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Pins glibc's mmap threshold at its default. Left to itself, glibc raises the threshold
/// to the size of the largest mapped block freed so far (up to 32 MiB), after which
/// blocks that size come from the per-thread arenas and stay there once freed. Each
/// Argon2 hash (a sign-up, a login) allocates and frees 19 MiB of scratch on a blocking
/// thread, so after a few hundred sign-ups every arena (up to 8 per core) held two or
/// three of them: about 1 GiB resident that no viewer used (the `audience` soak,
/// docs/performance.md, "Soak"). Pinned, the scratch is unmapped as soon as a hash
/// finishes.
///
/// Call it before anything allocates large blocks. An operator's `MALLOC_MMAP_THRESHOLD_`
/// is left to win; other C libraries have no such knob and this does nothing there.
pub fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt takes two integers and changes allocator settings only; glibc
        // applies them under its own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

/// Hands the pages glibc holds free back to the system, in every arena. glibc returns
/// memory only from the top of each heap; after a crowd leaves, what its connections
/// freed sits between live blocks and stays resident (about 140 MiB after the 5,000-viewer
/// soak, with 13 MB live). A trim walks the arenas under their locks: milliseconds for a
/// heap of this size.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases pages the allocator holds free; it takes its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes resident in the process beyond what the allocator has handed out: the resident
/// size less the heap in use and the blocks mapped on their own (`None` where that is not
/// known). Code, stacks and SQLite's mappings are in it too, a near constant; what moves
/// is free memory of the allocator's arenas that is resident.
fn resident_slack() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // The second field of statm is the resident size, in pages.
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        // SAFETY: mallinfo2 only reads the allocator's statistics, under its own locks.
        let heap = unsafe { libc::mallinfo2() };
        Some((pages * page).saturating_sub(heap.uordblks + heap.hblkhd))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// When to hand free memory back: once the resident memory not in use
/// ([`resident_slack`]) is [`RELEASE_AFTER`] bytes more than at its lowest since the last
/// release. What a release cannot hand back (free pieces smaller than a page, between live
/// blocks) stays resident; the mark is then what is left after the release, so that it is
/// not tried again every second.
///
/// Why resident memory and not the allocator's free figure: a release leaves the released
/// blocks free (their pages are gone), and a burst that takes them again faults their
/// pages back in and frees them, with the free figure unchanged. Counted in free memory, a
/// 2,000-viewer chat storm released once, early, and then kept 2 to 2.5 MB resident that a
/// release gives back (issue 15, measured by releasing from a debugger after the storm).
/// At rest the resident size does not move, so nothing is released.
#[derive(Debug)]
pub struct Release {
    /// The least resident memory not in use seen since the last release.
    low: usize,
}

impl Default for Release {
    fn default() -> Release {
        Release { low: usize::MAX }
    }
}

impl Release {
    /// Whether to release now, with `slack` bytes resident and not in use.
    pub fn after(&mut self, slack: usize) -> bool {
        self.low = self.low.min(slack);
        slack - self.low >= RELEASE_AFTER
    }

    /// A release is done, and left `slack` bytes resident and not in use: the mark later
    /// growth is counted from.
    pub fn released(&mut self, slack: usize) {
        self.low = slack;
    }
}

/// Epochs advanced at each look, each freeing what was set aside two epochs before.
const EPOCHS: usize = 3;

/// Frees what lock-free structures set aside to free once no thread can still read it
/// (crossbeam-epoch's deferred frees). The metrics recorder folds its histogram samples
/// every second and leaves their blocks to be freed so; crossbeam frees them only when
/// threads pin again, which samples being recorded do, 128 pins at a time. So the last
/// blocks of a burst stay until traffic comes back: after a 2,000-viewer chat storm some
/// 300 to 400 KB (heaptrack), when `livecart_flush_seconds` took a sample for every flush
/// (it now takes one in 16).
/// Each pin here may move the epoch on by one and free what became safe to free.
fn collect_deferred() {
    for _ in 0..EPOCHS {
        crossbeam_epoch::pin().flush();
    }
}

/// Looks at the resident memory every [`LOOK_EVERY`] and releases the allocator's free
/// memory when a burst has left enough of it resident ([`Release`]), until `shutdown`.
pub async fn run_release(shutdown: CancellationToken) {
    let mut every = tokio::time::interval(LOOK_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut release = Release::default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        // Both walk the arenas under their locks: off the runtime's workers.
        let looked = tokio::task::spawn_blocking(move || {
            collect_deferred();
            if resident_slack().is_some_and(|slack| release.after(slack)) {
                release_free_memory();
                if let Some(left) = resident_slack() {
                    release.released(left);
                }
            }
            release
        });
        match looked.await {
            Ok(looked) => release = looked,
            Err(_) => return,
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes in blocks that have a mapping of their own.
    fn mapped_bytes() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        unsafe { libc::mallinfo2() }.hblkhd
    }

    /// Whether the page holding `addr` is resident. `mincore` reads the page tables
    /// only, so asking about memory already freed is sound.
    fn page_resident(addr: usize) -> bool {
        let page = addr & !4095;
        let mut state = 0u8;
        // SAFETY: mincore writes one byte per page of the range into `state`, and the
        // range is one page-aligned page of this process's address space.
        let rc = unsafe { libc::mincore(page as *mut libc::c_void, 4096, &mut state) };
        rc == 0 && state & 1 == 1
    }

    #[test]
    fn a_release_waits_for_resident_memory_grown_since_its_lowest_and_counts_from_what_it_left() {
        const K: usize = 1 << 10;
        let mut release = Release::default();
        assert!(!release.after(3_000 * K), "the first look only sets the mark");
        assert!(!release.after(1_000 * K), "memory taken into use is not a reason to release");
        assert!(!release.after(1_255 * K), "a KiB short of the threshold over the low");
        assert!(release.after(1_256 * K), "the threshold over the low");
        release.released(1_100 * K);
        assert!(!release.after(1_300 * K), "counted from what the release left, not from the old low");
        assert!(release.after(1_356 * K));
        release.released(1_356 * K);
        assert!(!release.after(1_356 * K), "what a release could not hand back is not tried again");
    }

    #[test]
    fn memory_freed_between_live_blocks_goes_back_to_the_system() {
        // 128 MiB in blocks under the mmap threshold, each followed by a small one that
        // stays, so glibc cannot give the freed space back from the top of the heap. The
        // check reads the freed blocks' own pages, not the process's resident size, which
        // the tests running beside this one move.
        let (mut freed, mut kept) = (Vec::new(), Vec::new());
        for _ in 0..2_048 {
            freed.push(vec![1u8; 64 << 10]);
            kept.push(vec![1u8; 64]);
        }
        // A page in the middle of each block: never the one holding a chunk header.
        let middles: Vec<usize> = freed.iter().map(|block| block.as_ptr() as usize + (32 << 10)).collect();
        drop(freed);
        release_free_memory();
        let still = middles.iter().filter(|addr| page_resident(**addr)).count();
        drop(kept);
        // Another thread may take a few of the freed blocks from this arena meanwhile.
        assert!(still < middles.len() / 4, "{still} of {} freed blocks still resident after a release", middles.len());
    }

    #[test]
    fn a_block_the_size_of_argon2_scratch_is_mapped_every_time_not_only_the_first() {
        pin_mmap_threshold();
        // Unpinned, freeing the first block raises the threshold past its size, and the
        // second comes from an arena (the mapped total does not grow): the test fails.
        for round in 0..3 {
            let before = mapped_bytes();
            let scratch = vec![1u8; 19 << 20];
            let mapped = mapped_bytes().saturating_sub(before);
            assert!(mapped >= scratch.len(), "round {round}: only {mapped} bytes mapped for a 19 MiB block");
            drop(scratch);
        }
    }
}
