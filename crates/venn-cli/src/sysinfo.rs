//! Process CPU time and peak memory, and a description of the machine,
//! read from `/proc` (Linux). Where `/proc` is missing the figures read as
//! zero (or "unknown") rather than failing a run.

use std::time::Duration;

use serde::Serialize;

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line, in clock ticks.
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return Duration::ZERO };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // Field 14 is index 11 after the command (fields 3.. start at index 0).
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 1000 / clock_ticks_per_second())
}

/// Linux reports CPU times in USER_HZ, which is 100 on every mainstream
/// architecture.
fn clock_ticks_per_second() -> u64 {
    100
}

/// Peak resident memory of this process so far, in bytes (`VmHWM`).
pub fn peak_rss() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

/// What a benchmark result needs to say about the machine it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` of the first processor in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// CPUs this process may run on (`std::thread::available_parallelism`).
    pub cpus: usize,
    /// `MemTotal` of `/proc/meminfo`, bytes.
    pub memory_bytes: u64,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// `net.core.rmem_max`: the most receive buffer a socket may ask for, bytes.
    pub rmem_max: Option<u64>,
    /// `net.core.rmem_default`: a socket's receive buffer if it asks for none, bytes.
    pub rmem_default: Option<u64>,
}

/// The machine this process runs on.
pub fn machine() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let number = |path: &str| read(path).and_then(|v| v.trim().parse::<u64>().ok());
    Machine {
        cpu_model: read("/proc/cpuinfo")
            .and_then(|c| field(&c, "model name").map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory_bytes: read("/proc/meminfo")
            .and_then(|m| field(&m, "MemTotal").and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok()))
            .map(|kib| kib * 1024)
            .unwrap_or(0),
        kernel: read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned()).unwrap_or_else(|| "unknown".into()),
        rmem_max: number("/proc/sys/net/core/rmem_max"),
        rmem_default: number("/proc/sys/net/core/rmem_default"),
    }
}

/// The value of the first `key: value` line with this key (`/proc` style).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), zero if unknown.
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().unwrap_or(0.0));
    std::array::from_fn(|_| fields.next().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_time();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > before);
    }

    #[test]
    fn peak_rss_is_known_on_linux() {
        assert!(peak_rss() > 1024 * 1024);
    }

    #[test]
    fn proc_fields_are_found_by_key_not_by_prefix() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nmodel\t\t: 1\n";
        assert_eq!(field(text, "model name"), Some("AMD EPYC 7B13"));
        assert_eq!(field(text, "model"), Some("1"));
        assert_eq!(field(text, "cache size"), None);
    }

    #[test]
    fn the_machine_is_described_on_linux() {
        let m = machine();
        assert!(m.cpus >= 1);
        assert!(m.memory_bytes > 0);
        assert!(!m.cpu_model.is_empty());
        assert!(load_average().iter().all(|l| *l >= 0.0));
    }
}
