//! Whose CPU time it was: the process's threads by name, so that the load generator's share
//! (threads named `load`) and the FHIR mock's (`mock-epd`) are counted apart from the
//! portal's (everything else: its runtime's `portal` threads, the audit log's writers).

/// CPU time in clock ticks (USER_HZ, 100 per second), by whose it was.
#[derive(Clone, Copy, Default)]
pub(crate) struct Split {
    /// The whole process, threads that have ended included.
    pub(crate) process: u64,
    /// The load generator's threads.
    pub(crate) load: u64,
    /// The FHIR mock EPD's threads.
    pub(crate) mock: u64,
}

impl Split {
    /// The portal's part: the process's time less the generator's and the mock's.
    pub(crate) fn portal(&self) -> u64 {
        self.process.saturating_sub(self.load + self.mock)
    }

    /// The ticks between `self` and a later reading.
    pub(crate) fn until(&self, later: &Split) -> Split {
        Split {
            process: later.process.saturating_sub(self.process),
            load: later.load.saturating_sub(self.load),
            mock: later.mock.saturating_sub(self.mock),
        }
    }
}

/// utime + stime of a `stat` file's contents (fields 14 and 15; the name, in parentheses, may
/// hold spaces, so the fields are counted after its closing parenthesis), with the name.
fn ticks_of(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let after = stat.get(close + 2..)?;
    let mut fields = after.split(' ').skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((name, user + system))
}

/// Reads the split now, from `/proc/self`.
pub(crate) fn now() -> Split {
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks_of(&s).map(|(_, t)| t))
        .unwrap_or(0);
    let mut split = Split {
        process,
        ..Split::default()
    };
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return split;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        match ticks_of(&stat) {
            Some((name, ticks)) if name.starts_with("load") => split.load += ticks,
            Some((name, ticks)) if name.starts_with("mock-epd") => split.mock += ticks,
            _ => {}
        }
    }
    split
}
