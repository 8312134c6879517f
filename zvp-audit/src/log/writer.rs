//! The writer thread: takes the appends waiting, writes them with one write and one sync
//! (group commit), and only then answers their callers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::record::{self, chain_next, leaf_of};
use super::scan::segment_name;
use super::state::Position;
use super::storage::{Segment, Storage};
use super::{FileLogOptions, LogError, Receipt, Request, Tree, io};
use crate::merkle::Hash;

/// The largest batch buffer the writer keeps for the next batch (a full batch of the portal's
/// records is about 3 MiB).
const KEPT_BUFFER: usize = 4 << 20;

/// The writer thread's state.
pub(super) struct Writer<S: Storage> {
    pub(super) syncs: Arc<AtomicU64>,
    pub(super) storage: S,
    pub(super) dir: PathBuf,
    pub(super) segment: S::Segment,
    /// The first sequence number of the segment being written.
    pub(super) segment_first: u64,
    pub(super) segment_length: u64,
    pub(super) next_seq: u64,
    pub(super) chain: Hash,
    pub(super) tree: Arc<Mutex<Tree>>,
    pub(super) options: FileLogOptions,
    pub(super) random: SystemRandom,
    /// The frames of the batch being written, kept between batches: a batch of a few hundred
    /// records is a few hundred kilobytes, which a fresh buffer each time would have the
    /// allocator fetch (and the kernel zero) again.
    pub(super) bytes: Vec<u8>,
}

impl<S: Storage> Writer<S> {
    /// Takes batches of appends until the log is dropped or a write fails.
    pub(super) fn run(mut self, receiver: &Receiver<Request>) {
        // A request that would have made the last batch larger than `max_batch`: the first
        // of the next one. A request is never split: its events share one write and one sync
        // (`FileLog::append_all` makes none larger than `max_batch`).
        let mut carried: Option<Request> = None;
        loop {
            let first = match carried.take() {
                Some(request) => request,
                None => match receiver.recv() {
                    Ok(request) => request,
                    Err(_) => return,
                },
            };
            let mut records = first.events.len();
            let mut batch = vec![first];
            while records < self.options.max_batch {
                match receiver.try_recv() {
                    Ok(request) if records + request.events.len() > self.options.max_batch => {
                        carried = Some(request);
                        break;
                    }
                    Ok(request) => {
                        records += request.events.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.write_batch(batch, records) {
                // Fail closed: answer everyone still waiting, accept nothing more.
                let waiting = carried.take().into_iter().chain(receiver.try_iter());
                for request in waiting {
                    let _ = request.reply.send(Err(e.clone()));
                }
                return;
            }
        }
    }

    /// Writes one batch of `records` records with one write and one sync, then answers its
    /// callers.
    fn write_batch(&mut self, batch: Vec<Request>, records: usize) -> Result<(), LogError> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        bytes.reserve(
            batch
                .iter()
                .map(|r| record::FRAMED * r.events.len() + r.events.json.len())
                .sum(),
        );
        let mut receipts = Vec::with_capacity(records);
        let mut chain = self.chain;
        let mut last_frame_at = 0;
        // Every salt of the batch from one draw: a call into the generator per record cost
        // more than the record's hashes; each salt is still 16 fresh random bytes.
        let mut salts = vec![[0u8; 16]; records];
        let result = match self.random.fill(salts.as_flattened_mut()) {
            Err(e) => Err(io(e)),
            Ok(()) => {
                let events = batch.iter().flat_map(|r| r.events.events());
                for (salt, event) in salts.iter().zip(events) {
                    let leaf = leaf_of(salt, event);
                    chain = chain_next(&chain, &leaf);
                    let seq = self.next_seq + receipts.len() as u64;
                    last_frame_at = bytes.len() as u64;
                    record::put_frame(&mut bytes, seq, salt, &chain, event);
                    receipts.push(Receipt { seq, leaf, chain });
                }
                self.write_durably(&bytes)
            }
        };
        let written = bytes.len() as u64;
        // Kept for the next batch unless one unusually large batch made it huge.
        if bytes.capacity() <= KEPT_BUFFER {
            self.bytes = bytes;
        }
        match result {
            Ok(at) => {
                self.chain = chain;
                self.next_seq += receipts.len() as u64;
                if let Ok(mut tree) = self.tree.lock() {
                    for receipt in &receipts {
                        tree.range.push(receipt.leaf);
                    }
                    tree.chain = chain;
                    tree.last = Some(Position {
                        segment: self.segment_first,
                        start: at + last_frame_at,
                        end: at + written,
                    });
                }
                let mut receipts = receipts.into_iter();
                for request in batch {
                    let mine = receipts.by_ref().take(request.events.len()).collect();
                    let _ = request.reply.send(Ok(mine));
                }
                Ok(())
            }
            Err(e) => {
                for request in batch {
                    let _ = request.reply.send(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// Appends `bytes` to the current segment (starting a new one when it is full) and syncs;
    /// returns where in the segment they begin.
    fn write_durably(&mut self, bytes: &[u8]) -> Result<u64, LogError> {
        if self.segment_length > 0
            && self.segment_length + bytes.len() as u64 > self.options.segment_bytes
        {
            let path = self.dir.join(segment_name(self.next_seq));
            self.segment = self.storage.create_segment(&path).map_err(io)?;
            self.segment_first = self.next_seq;
            self.segment_length = 0;
            self.storage.sync_dir(&self.dir).map_err(io)?;
        }
        self.segment
            .write_at(self.segment_length, bytes)
            .map_err(io)?;
        self.segment.sync_data().map_err(io)?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let at = self.segment_length;
        self.segment_length += bytes.len() as u64;
        Ok(at)
    }
}
