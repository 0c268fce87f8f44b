//! Work shared out over every core, results kept in input order: a full
//! render and a full content load are CPU-bound and independent per
//! element.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` of every element, in order, on every core: threads take `chunk`
/// elements at a time, so an uneven mix (most reused, some rendered;
/// most files unchanged, one parsed) still shares out.
pub fn map<T: Sync, R: Send>(all: &[T], chunk: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = chunk.max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(all.len().div_ceil(chunk));
    if threads <= 1 {
        return all.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            if start >= all.len() {
                return done;
            }
            let end = (start + chunk).min(all.len());
            done.push((start, all[start..end].iter().map(&f).collect::<Vec<R>>()));
        }
    };
    let mut parts: Vec<(usize, Vec<R>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    });
    parts.sort_by_key(|(start, _)| *start);
    parts.into_iter().flat_map(|(_, part)| part).collect()
}

#[cfg(test)]
mod tests {
    /// Threads take work as they free up, yet the results come back in
    /// the input's order (diagnostics and variants stay in file order).
    #[test]
    fn map_keeps_the_order() {
        let input: Vec<usize> = (0..10 * 32 + 3).collect();
        let out = super::map(&input, 32, |n| n * 2);
        assert_eq!(out, input.iter().map(|n| n * 2).collect::<Vec<_>>());
    }
}
