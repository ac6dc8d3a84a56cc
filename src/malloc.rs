//! Process-wide settings of the C allocator, applied once at the start of `main`, and
//! the return of the memory it holds free once a burst has freed some.

use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often the allocator's free memory is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Memory freed since the allocator last held least that is worth handing back.
const RELEASE_AFTER: usize = 1 << 20;

/// Blocks of 128 KiB and more get a mapping of their own, returned to the system when
/// freed: glibc's documented default, pinned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Pins glibc's mmap threshold at its default. Left to itself, glibc raises the threshold
/// to the size of the largest mapped block freed so far (up to 32 MiB), after which
/// blocks that size come from the per-thread arenas and stay there once freed. Each
/// Argon2 hash (a sign-up, a login) allocates and frees 19 MiB of scratch on a blocking
/// thread, so after a few hundred sign-ups every arena (up to 8 per core) held two or
/// three of them: about 1 GiB resident that no viewer used (the `audience` soak, README
/// "Soak"). Pinned, the scratch is unmapped as soon as a hash finishes.
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

/// Bytes the allocator holds free, in all its arenas (0 where that is not known).
fn free_held() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads the allocator's statistics, under its own locks.
    let free = unsafe { libc::mallinfo2() }.fordblks;
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let free = 0;
    free
}

/// When to hand free memory back: once [`RELEASE_AFTER`] bytes more are free than at the
/// lowest the allocator held since the last release. A burst (a chat storm's frames, a
/// crowd leaving) takes memory and frees it: a 2,000-viewer chat storm left about 2 MB
/// free in the arenas, resident until the next trim, which came every 30 s whatever
/// happened. At rest nothing is freed, so nothing is trimmed; in that storm the free
/// figure swings by about a mebibyte a second, so a trim comes about every second, and
/// the pages it hands back are faulted in again as the storm takes them.
#[derive(Debug)]
pub struct Release {
    /// The least free memory seen since the last release.
    low: usize,
}

impl Default for Release {
    fn default() -> Release {
        Release { low: usize::MAX }
    }
}

impl Release {
    /// Whether to release now, the allocator holding `free` bytes free.
    pub fn after(&mut self, free: usize) -> bool {
        self.low = self.low.min(free);
        // A trim leaves the released blocks free (their pages are gone), so what is
        // free now is the mark that later frees are counted from.
        let release = free - self.low >= RELEASE_AFTER;
        if release {
            self.low = free;
        }
        release
    }
}

/// Looks at the allocator's free memory every [`LOOK_EVERY`] and releases it when a
/// burst has freed enough ([`Release`]), until `shutdown`.
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
            if release.after(free_held()) {
                release_free_memory();
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
    fn a_release_waits_for_a_mebibyte_freed_since_the_allocator_held_least() {
        let mut release = Release::default();
        assert!(!release.after(3 << 20), "the first look only sets the mark");
        assert!(!release.after(1 << 20), "memory taken is not a reason to release");
        assert!(!release.after((2 << 20) - 1), "a byte short of a mebibyte freed since the low");
        assert!(release.after(2 << 20), "a mebibyte freed since the low");
        assert!(!release.after(2 << 20), "released: what is free now is the new mark");
        assert!(!release.after((3 << 20) - 1));
        assert!(release.after(3 << 20));
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
