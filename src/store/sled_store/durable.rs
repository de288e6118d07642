//! The power-loss barrier sled 0.34.7 lacks.
//!
//! `sled::Db::flush` writes its buffers with `pwrite` and then only
//! `sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER)` (pagecache/iobuf.rs):
//! the data reaches the device, but neither the file's metadata (its size,
//! when the log grew) nor the device's volatile write cache is flushed, so
//! a kernel crash or power cut can lose what was acknowledged. Large pages
//! go to one new file each under `blobs/` (pagecache/blob_io.rs), written
//! and closed without any sync, and with no directory sync for the new
//! name. `conf` (config.rs) is written once at creation without a sync.
//!
//! After sled's flush, [`DiskBarrier::sync`] therefore `fdatasync`s the
//! `db` file, `fsync`s every blob file not synced before and then the
//! `blobs/` directory (for the new names). [`DiskBarrier::open`] syncs what
//! sled creates once (`conf`, `db`, `blobs/`, snapshot files and the
//! directories naming them). One barrier per flush, and the caller flushes
//! once per commit batch, so group commit amortises it.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Keeps the `db` file open (so a writeback error after open is reported
/// here) and remembers which blob files are already durable.
pub(super) struct DiskBarrier {
    dir: PathBuf,
    db: File,
    /// Blob file names (sled LSNs) synced by an earlier barrier and still
    /// present. sled never rewrites a blob in place: a name is written once.
    synced_blobs: HashSet<u64>,
    stats: BarrierStats,
}

/// What the barriers did so far (tests and measurements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarrierStats {
    /// Completed barriers.
    pub barriers: u64,
    /// Blob files synced (each once).
    pub blob_files: u64,
}

impl DiskBarrier {
    /// Call after sled opened `dir`: makes the files sled created, and
    /// their names, durable.
    pub(super) fn open(dir: &Path) -> io::Result<Self> {
        let db = File::open(dir.join("db"))?;
        let mut barrier = Self {
            dir: dir.to_owned(),
            db,
            synced_blobs: HashSet::new(),
            stats: BarrierStats::default(),
        };
        // Whatever a previous run (or an older Herald) left unsynced.
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                sync_file(&path)?;
            }
        }
        barrier.sync_new_blobs()?;
        sync_dir(&barrier.blobs_dir())?;
        sync_dir(dir)?;
        // The data directory itself may be new.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        barrier.db.sync_all()?;
        Ok(barrier)
    }

    /// Makes everything sled's flush wrote durable. Call right after
    /// `sled::Db::flush` returned, before acknowledging anything.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        if self.sync_new_blobs()? {
            sync_dir(&self.blobs_dir())?;
        }
        self.db.sync_data()?;
        self.stats.barriers += 1;
        Ok(())
    }

    pub(super) fn stats(&self) -> BarrierStats {
        self.stats
    }

    fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// Syncs each blob file not synced yet and forgets removed ones.
    /// Returns whether any was new (then the directory needs a sync).
    fn sync_new_blobs(&mut self) -> io::Result<bool> {
        let mut present = HashSet::with_capacity(self.synced_blobs.len());
        let mut changed = false;
        for entry in std::fs::read_dir(self.blobs_dir())? {
            let entry = entry?;
            // sled names blobs by LSN and ignores anything else.
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if !self.synced_blobs.contains(&lsn) {
                match sync_file(&entry.path()) {
                    Ok(()) => self.stats.blob_files += 1,
                    // Replaced and removed by sled meanwhile: nothing to keep.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                changed = true;
            }
            present.insert(lsn);
        }
        // A removed name needs no sync before an acknowledgement: an
        // unreferenced blob that comes back after a crash is only garbage.
        self.synced_blobs = present;
        Ok(changed)
    }
}

/// `fsync` through a fresh read-only descriptor: Linux syncs the inode
/// whatever the descriptor's mode, and reports a writeback error that no
/// one has seen yet to a descriptor opened after it.
fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// `fsync` of a directory makes the names created in it durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    sync_file(path)
}
