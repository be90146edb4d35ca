//! What both criterion benches share: naming a batched bench by the size of
//! its batch and the threads of rayon's pool.

/// The number of threads rayon's global pool starts with, by rayon's rule.
/// (The root package cannot name `rayon` to ask it.)
pub fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Id of a batched bench: batch size and threads, e.g. `8192/threads=2`.
pub fn batch_id(n: usize) -> String {
    format!("{n}/threads={}", rayon_threads())
}
