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
}

impl<S: Storage> Writer<S> {
    /// Takes batches of appends until the log is dropped or a write fails.
    pub(super) fn run(mut self, receiver: &Receiver<Request>) {
        while let Ok(first) = receiver.recv() {
            let mut batch = vec![first];
            while batch.len() < self.options.max_batch {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.write_batch(batch) {
                // Fail closed: answer everyone still waiting, accept nothing more.
                while let Ok(request) = receiver.try_recv() {
                    let _ = request.reply.send(Err(e.clone()));
                }
                return;
            }
        }
    }

    /// Writes one batch with one write and one sync, then answers its callers.
    fn write_batch(&mut self, batch: Vec<Request>) -> Result<(), LogError> {
        let mut bytes =
            Vec::with_capacity(batch.iter().map(|r| record::FRAMED + r.event.len()).sum());
        let mut receipts = Vec::with_capacity(batch.len());
        let mut chain = self.chain;
        let mut failed = None;
        let mut last_frame_at = 0;
        for (i, request) in batch.iter().enumerate() {
            let mut salt = [0u8; 16];
            if let Err(e) = self.random.fill(&mut salt) {
                failed = Some(io(e));
                break;
            }
            let leaf = leaf_of(&salt, &request.event);
            chain = chain_next(&chain, &leaf);
            let seq = self.next_seq + i as u64;
            last_frame_at = bytes.len() as u64;
            record::put_frame(&mut bytes, seq, &salt, &chain, &request.event);
            receipts.push(Receipt { seq, leaf, chain });
        }
        let result = match failed {
            Some(e) => Err(e),
            None => self.write_durably(&bytes),
        };
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
                        end: at + bytes.len() as u64,
                    });
                }
                for (request, receipt) in batch.into_iter().zip(receipts) {
                    let _ = request.reply.send(Ok(receipt));
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
