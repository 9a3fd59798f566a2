//! How much CPU and memory each container process uses, read from `/proc` as cAdvisor reads a
//! cgroup: CPU as the rate of CPU time between two reads (the first read averages over the
//! process's life), memory as the resident set, page faults as the process has counted them.
//! Containers of simulated images have no process; they report a small, steady figure so the
//! metrics API covers every pod.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a simulated container reports: 1 millicore and 4 MiB (each of its pages faulted in
/// once), and no CPU time yet: [`Usage::simulated`] adds the time it has been running.
pub const SIMULATED: Usage = Usage {
    cpu_nanocores: 1_000_000,
    cpu_core_nanoseconds: 0,
    memory_bytes: 4 * 1024 * 1024,
    page_faults: 4 * 1024 * 1024 / 4096,
    major_page_faults: 0,
};

/// Nanoseconds of CPU time in one clock tick.
const NANOSECONDS_PER_TICK: u64 = 1_000_000_000 / TICKS_PER_SECOND as u64;

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (`USER_HZ`, 100 on every Linux
/// architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads closer together than this return the previous rate (a rate over a few milliseconds
/// is noise).
const MIN_INTERVAL_SECONDS: f64 = 1.0;

/// A container's use of CPU and memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU now, in billionths of a core.
    pub cpu_nanocores: u64,
    /// CPU time used since the start, in nanoseconds (the kubelet's `usageCoreNanoSeconds`).
    pub cpu_core_nanoseconds: u64,
    /// Resident memory, in bytes.
    pub memory_bytes: u64,
    /// Page faults since the start, minor and major.
    pub page_faults: u64,
    /// Page faults since the start that had to read from disk.
    pub major_page_faults: u64,
}

impl Usage {
    /// A simulated container that has run for `seconds`: [`SIMULATED`], with the CPU time its
    /// steady rate adds up to.
    pub fn simulated(seconds: u64) -> Usage {
        Usage {
            cpu_core_nanoseconds: SIMULATED.cpu_nanocores * seconds,
            ..SIMULATED
        }
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, other: Usage) -> Usage {
        Usage {
            cpu_nanocores: self.cpu_nanocores + other.cpu_nanocores,
            cpu_core_nanoseconds: self.cpu_core_nanoseconds + other.cpu_core_nanoseconds,
            memory_bytes: self.memory_bytes + other.memory_bytes,
            page_faults: self.page_faults + other.page_faults,
            major_page_faults: self.major_page_faults + other.major_page_faults,
        }
    }
}

struct Process {
    pid: u32,
    /// The last read: when, the CPU ticks then, and the rate it gave.
    last: Option<(Instant, u64, u64)>,
}

type ContainerKey = (String, String, String);

/// The container processes the kubelets run, shared with the API server's metrics.
#[derive(Clone, Default)]
pub struct ProcessTable {
    inner: Arc<Mutex<HashMap<ContainerKey, Process>>>,
}

impl ProcessTable {
    /// A container of `namespace/pod` started as process `pid`.
    pub fn started(&self, namespace: &str, pod: &str, container: &str, pid: u32) {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.lock().insert(key, Process { pid, last: None });
    }

    /// The container's process exited.
    pub fn stopped(&self, namespace: &str, pod: &str, container: &str) {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.lock().remove(&key);
    }

    /// What the container's process uses now, if it runs as one and `/proc` has it.
    pub fn usage(&self, namespace: &str, pod: &str, container: &str) -> Option<Usage> {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        let mut inner = self.lock();
        let process = inner.get_mut(&key)?;
        let sample = read_proc(process.pid)?;
        let now = Instant::now();
        let usage = |cpu_nanocores| Usage {
            cpu_nanocores,
            cpu_core_nanoseconds: sample.cpu_ticks * NANOSECONDS_PER_TICK,
            memory_bytes: sample.resident_bytes,
            page_faults: sample.minor_faults + sample.major_faults,
            major_page_faults: sample.major_faults,
        };
        let cpu_nanocores = match process.last {
            Some((at, _, rate)) if now.duration_since(at).as_secs_f64() < MIN_INTERVAL_SECONDS => {
                return Some(usage(rate));
            }
            Some((at, ticks, _)) => rate(
                sample.cpu_ticks.saturating_sub(ticks),
                now.duration_since(at).as_secs_f64(),
            ),
            None => rate(sample.cpu_ticks, sample.age_seconds),
        };
        process.last = Some((now, sample.cpu_ticks, cpu_nanocores));
        Some(usage(cpu_nanocores))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContainerKey, Process>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn rate(ticks: u64, seconds: f64) -> u64 {
    if seconds <= 0.0 {
        return 0;
    }
    (ticks as f64 / TICKS_PER_SECOND / seconds * 1e9) as u64
}

struct ProcSample {
    cpu_ticks: u64,
    resident_bytes: u64,
    age_seconds: f64,
    minor_faults: u64,
    major_faults: u64,
}

/// `/proc/<pid>/stat` (minflt, majflt, utime, stime, starttime), `/proc/<pid>/statm` (resident pages) and
/// `/proc/uptime`.
fn read_proc(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    parse_proc(&stat, &statm, &uptime, page_size())
}

fn page_size() -> u64 {
    #[cfg(unix)]
    {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(4096)
    }
    #[cfg(not(unix))]
    {
        4096
    }
}

fn parse_proc(stat: &str, statm: &str, uptime: &str, page_size: u64) -> Option<ProcSample> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 10, 12, 14, 15 and 22 of the file are 8, 10, 12, 13 and 20 after the name and
    // state.
    let minor_faults: u64 = fields.get(7)?.parse().ok()?;
    let major_faults: u64 = fields.get(9)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    Some(ProcSample {
        cpu_ticks: utime + stime,
        resident_bytes: resident_pages * page_size,
        age_seconds: uptime - start_ticks / TICKS_PER_SECOND,
        minor_faults,
        major_faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse_even_with_spaces_in_the_name() {
        let stat = "4242 (calc service) S 1 4242 4242 0 -1 4194560 1200 0 7 0 250 50 0 0 20 0 4 0 10000 123456789 2048 18446744073709551615";
        let sample = parse_proc(stat, "5000 2048 300 10 0 900 0", "200.00 350.00", 4096).unwrap();
        assert_eq!(sample.cpu_ticks, 300);
        assert_eq!((sample.minor_faults, sample.major_faults), (1200, 7));
        assert_eq!(sample.resident_bytes, 2048 * 4096);
        assert!((sample.age_seconds - 100.0).abs() < 1e-9);
        // 300 ticks (3 s of CPU) over 100 s of life: 0.03 cores.
        assert_eq!(rate(sample.cpu_ticks, sample.age_seconds), 30_000_000);
        assert!(parse_proc("garbage", "", "", 4096).is_none());
    }

    #[test]
    fn this_process_can_be_read() {
        let table = ProcessTable::default();
        table.started("ns", "pod", "c", std::process::id());
        let usage = table
            .usage("ns", "pod", "c")
            .expect("/proc has this process");
        assert!(usage.memory_bytes > 1024 * 1024, "{usage:?}");
        // A running test binary has faulted its pages in and used some CPU.
        assert!(usage.page_faults > 100, "{usage:?}");
        assert!(usage.cpu_core_nanoseconds > 0, "{usage:?}");
        table.stopped("ns", "pod", "c");
        assert!(table.usage("ns", "pod", "c").is_none());
    }
}
