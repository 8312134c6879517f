//! Storage that models a power cut (feature `fault-injection`, for tests only).
//!
//! [`PowerCut`] writes the segments through to the real files, so that the log reads them
//! back as usual, and keeps beside them, per file, the bytes a power cut would leave: those of
//! its last `fdatasync`, and whether its name is durable — only after an fsync of its
//! directory, or when the file was there before. After a set number of operations the power
//! fails: that operation and every later one fails, so the writer acknowledges nothing more.
//! [`PowerCut::apply`] then rewrites the files to what survives: a file whose name was never
//! synced may be gone, and each file holds what was synced plus a random prefix of what was
//! written after it (a write the disk had partly done).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Fs, Segment, Storage};

/// Storage that loses what was not synced when its power is cut. Clones share one disk.
#[derive(Debug, Clone, Default)]
pub struct PowerCut {
    disk: Arc<Mutex<Disk>>,
}

#[derive(Debug, Default)]
struct Disk {
    /// Operations done.
    operations: u64,
    /// How many operations succeed before the power fails, if it is to.
    cut_at: Option<u64>,
    off: bool,
    files: BTreeMap<PathBuf, Tracked>,
}

/// A file as the page cache and as the platter hold it.
#[derive(Debug)]
struct Tracked {
    written: Vec<u8>,
    synced: Vec<u8>,
    /// Whether its directory entry is durable.
    named: bool,
}

/// What [`PowerCut::apply`] left of the files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Survived {
    /// Files whose unsynced name was lost, so the file with it.
    pub files_lost: u64,
    /// Bytes written but not synced that were lost.
    pub bytes_lost: u64,
    /// Bytes written but not synced that were kept (a torn write's done part).
    pub bytes_kept: u64,
}

impl Disk {
    /// One more operation: refused once the power is off, or as the one it fails at.
    fn step(&mut self) -> io::Result<()> {
        if self.off || self.cut_at == Some(self.operations) {
            self.off = true;
            return Err(io::Error::other("power cut"));
        }
        self.operations += 1;
        Ok(())
    }

    fn tracked(&mut self, path: &Path) -> io::Result<&mut Tracked> {
        self.files
            .get_mut(path)
            .ok_or_else(|| io::Error::other("a segment the storage did not open"))
    }
}

impl PowerCut {
    /// Storage whose power does not fail until [`cut`](Self::cut).
    pub fn new() -> Self {
        Self::default()
    }

    /// Storage whose power fails at its operation number `operations` (from 0): opening,
    /// creating, writing, syncing or truncating a segment, or syncing the directory.
    pub fn failing_after(operations: u64) -> Self {
        let storage = Self::default();
        if let Ok(mut disk) = storage.disk.lock() {
            disk.cut_at = Some(operations);
        }
        storage
    }

    /// Cuts the power now, if it is still on.
    pub fn cut(&self) {
        if let Ok(mut disk) = self.disk.lock() {
            disk.off = true;
        }
    }

    /// The operations done before the power failed (all of them if it has not).
    pub fn operations(&self) -> u64 {
        self.disk.lock().map_or(0, |disk| disk.operations)
    }

    /// Whether the power has failed.
    pub fn is_off(&self) -> bool {
        self.disk.lock().map_or(true, |disk| disk.off)
    }

    /// Rewrites the files it wrote to what a power cut leaves of them, chosen by `seed`: a
    /// file whose name was not synced survives or not, and every file keeps what was synced
    /// and a prefix of what was written after it. Call it once, with the log dropped; it cuts
    /// the power first.
    ///
    /// # Errors
    ///
    /// What the file system reports.
    pub fn apply(&self, seed: u64) -> io::Result<Survived> {
        let mut random = SplitMix(seed);
        let mut disk = self.lock()?;
        disk.off = true;
        let mut survived = Survived::default();
        for (path, file) in &disk.files {
            let unsynced = match file.written.strip_prefix(file.synced.as_slice()) {
                Some(after) => after,
                // Cut shorter since the sync (and not synced again): the sync's bytes stand.
                None => &[],
            };
            if !file.named && random.coin() {
                survived.files_lost += 1;
                survived.bytes_lost += unsynced.len() as u64;
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => continue,
                }
            }
            // Torn writes are as likely as none at all.
            let kept = if random.coin() {
                usize::try_from(random.next() % (unsynced.len() as u64 + 1)).unwrap_or(0)
            } else {
                0
            };
            let kept = unsynced.get(..kept).unwrap_or(&[]);
            survived.bytes_kept += kept.len() as u64;
            survived.bytes_lost += (unsynced.len() - kept.len()) as u64;
            std::fs::write(path, [file.synced.as_slice(), kept].concat())?;
        }
        Ok(survived)
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Disk>> {
        self.disk
            .lock()
            .map_err(|_| io::Error::other("the storage's lock is poisoned"))
    }

    fn segment(&self, path: &Path, file: File) -> PowerCutSegment {
        PowerCutSegment {
            path: path.to_path_buf(),
            file,
            disk: self.clone(),
        }
    }
}

impl Storage for PowerCut {
    type Segment = PowerCutSegment;

    fn open_segment(&self, path: &Path) -> io::Result<PowerCutSegment> {
        let mut disk = self.lock()?;
        disk.step()?;
        let existed = path.exists();
        let file = Fs.open_segment(path)?;
        if !disk.files.contains_key(path) {
            // A file that was there before this storage is as durable as it is.
            let bytes = if existed {
                std::fs::read(path)?
            } else {
                Vec::new()
            };
            disk.files.insert(
                path.to_path_buf(),
                Tracked {
                    written: bytes.clone(),
                    synced: bytes,
                    named: existed,
                },
            );
        }
        Ok(self.segment(path, file))
    }

    fn create_segment(&self, path: &Path) -> io::Result<PowerCutSegment> {
        let mut disk = self.lock()?;
        disk.step()?;
        let file = Fs.create_segment(path)?;
        disk.files.insert(
            path.to_path_buf(),
            Tracked {
                written: Vec::new(),
                synced: Vec::new(),
                named: false,
            },
        );
        Ok(self.segment(path, file))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut disk = self.lock()?;
        disk.step()?;
        for (path, file) in &mut disk.files {
            if path.parent() == Some(dir) {
                file.named = true;
            }
        }
        Ok(())
    }
}

/// A segment of a [`PowerCut`] storage.
#[derive(Debug)]
pub struct PowerCutSegment {
    path: PathBuf,
    file: File,
    disk: PowerCut,
}

impl Segment for PowerCutSegment {
    fn length(&self) -> io::Result<u64> {
        let mut disk = self.disk.lock()?;
        Ok(disk.tracked(&self.path)?.written.len() as u64)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut disk = self.disk.lock()?;
        disk.step()?;
        self.file.write_at(offset, bytes)?;
        let written = &mut disk.tracked(&self.path)?.written;
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + bytes.len();
        if written.len() < end {
            written.resize(end, 0);
        }
        if let Some(range) = written.get_mut(start..end) {
            range.copy_from_slice(bytes);
        }
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut disk = self.disk.lock()?;
        disk.step()?;
        let file = disk.tracked(&self.path)?;
        file.synced.clone_from(&file.written);
        Ok(())
    }

    fn truncate(&mut self, length: u64) -> io::Result<()> {
        let mut disk = self.disk.lock()?;
        // Two operations, as the real one is: the power may fail between the cut and its sync.
        disk.step()?;
        self.file.set_len(length)?;
        let file = disk.tracked(&self.path)?;
        file.written
            .resize(usize::try_from(length).map_err(io::Error::other)?, 0);
        disk.step()?;
        let file = disk.tracked(&self.path)?;
        file.synced.clone_from(&file.written);
        Ok(())
    }
}

/// SplitMix64: enough randomness for choosing what survives, reproducible from a seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }
}
