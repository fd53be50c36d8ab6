//! Allocator tuning, done once at start-up before any thread exists.
//!
//! glibc serves allocations above `M_MMAP_THRESHOLD` with their own mmap and
//! returns them to the kernel on free, but by default it raises that
//! threshold (up to 32 MiB) every time such a block is freed. After the first
//! few large buffers (WAL replay batches, remote-write request bodies, query
//! results) every later one of that size comes from the heap instead, and
//! once freed it stays there as holes between the small, long-lived
//! allocations of the head (series and chunks): resident memory that no
//! series uses. Fixing the threshold keeps large buffers out of the heap:
//! after a restart with a 1 h head of 100k series this is 20% less resident
//! memory (BENCHMARKS.md), with no measurable cost in speed.
//!
//! glibc also gives threads their own arenas (up to 8 per core). A chunk
//! buffer is freed into the arena of the thread that allocated it, but the
//! next one is allocated from the arena of whichever thread appends, so
//! freed buffers pile up unused across a dozen arenas. Two arenas (one per
//! core here; each thread keeps its small-object cache regardless) cut
//! resident memory after a 1 h ingest by a further 15%.

/// Blocks of this size and larger are mmapped and returned to the kernel on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;

/// Arenas glibc may create.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_MAX: libc::c_int = 2;

/// Applies the tuning (a no-op outside glibc).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread starts, as glibc recommends.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
    }
}
