//! The file operations by which the log makes its records durable: opening and creating the
//! segment it appends to, writing, `fdatasync`, cutting a torn tail, and the fsync of the
//! directory that makes a new segment's name durable.
//!
//! [`FileLog::open`](super::FileLog::open) uses [`Fs`], the operating system's files.
//! [`FileLog::open_with_storage`](super::FileLog::open_with_storage) takes any other
//! [`Storage`]: a test's (feature `fault-injection`: `fault::PowerCut`) that keeps apart what
//! was synced and what was only written, so that a power cut can throw the latter away. The
//! seam is generic — the writer is compiled for the storage it is given — so the real files
//! pay no indirection. Reading a log back (opening, [`verify`](super::verify), reports) reads
//! the files themselves: a power cut is applied to them before the log is opened again.

#[cfg(feature = "fault-injection")]
pub mod fault;

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// Where a log's segments are written and synced.
pub trait Storage: Send + 'static {
    /// A segment file open for appending.
    type Segment: Segment;

    /// Opens the segment at `path` for writing, creating it (empty) if it does not exist.
    ///
    /// # Errors
    ///
    /// What the file system reports.
    fn open_segment(&self, path: &Path) -> io::Result<Self::Segment>;

    /// Creates the segment at `path`, which must not exist yet.
    ///
    /// # Errors
    ///
    /// What the file system reports, also when the file exists.
    fn create_segment(&self, path: &Path) -> io::Result<Self::Segment>;

    /// fsyncs the directory `dir`, so that the names of the files created in it survive a
    /// power cut.
    ///
    /// # Errors
    ///
    /// What the file system reports.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A segment file open for writing.
pub trait Segment: Send + 'static {
    /// Its length in bytes.
    ///
    /// # Errors
    ///
    /// What the file system reports.
    fn length(&self) -> io::Result<u64>;

    /// Writes all of `bytes` at `offset`.
    ///
    /// # Errors
    ///
    /// What the file system reports; part of `bytes` may have been written.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;

    /// Makes what was written durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// What the file system reports: then nothing written since the last sync is known to be
    /// durable.
    fn sync_data(&mut self) -> io::Result<()>;

    /// Cuts the file to `length` bytes and makes that durable, length included (`fsync`).
    ///
    /// # Errors
    ///
    /// What the file system reports.
    fn truncate(&mut self, length: u64) -> io::Result<()>;
}

/// The operating system's files: what a log runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fs;

impl Storage for Fs {
    type Segment = File;

    fn open_segment(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
    }

    fn create_segment(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir).and_then(|d| d.sync_all())
    }
}

impl Segment for File {
    fn length(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.seek(SeekFrom::Start(offset))?;
        self.write_all(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn truncate(&mut self, length: u64) -> io::Result<()> {
        self.set_len(length)?;
        self.sync_all()
    }
}
