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
//! `db` file, `fsync`s every blob file written since the last barrier
//! (found with inotify, so the cost does not grow with the store) and then
//! the `blobs/` directory (for the new names). [`DiskBarrier::open`] syncs what
//! sled creates once (`conf`, `db`, `blobs/`, snapshot files and the
//! directories naming them). One barrier per flush, and the caller flushes
//! once per commit batch, so group commit amortises it.

use rustix::fs::inotify;
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Keeps the `db` file open (so a writeback error after open is reported
/// here) and finds the blob files written since the last barrier.
pub(super) struct DiskBarrier {
    dir: PathBuf,
    db: File,
    blobs: NewBlobs,
    stats: BarrierStats,
}

/// How new blob files are found. sled writes each blob name once and
/// closes it when complete, so "closed after writing" is exactly "new".
enum NewBlobs {
    /// inotify `IN_CLOSE_WRITE` on `blobs/`: costs nothing per barrier
    /// when no blob was written, however many blobs the store holds.
    Watch(OwnedFd),
    /// Without inotify (no instance left): list `blobs/` at every barrier
    /// and remember which names are synced.
    List(HashSet<u64>),
}

/// What the barriers did so far (tests and measurements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarrierStats {
    /// Completed barriers.
    pub barriers: u64,
    /// Blob files synced.
    pub blob_files: u64,
}

impl DiskBarrier {
    /// Call after sled opened `dir`: makes the files sled created, and
    /// their names, durable.
    pub(super) fn open(dir: &Path) -> io::Result<Self> {
        Self::open_with(dir, watch)
    }

    fn open_with(dir: &Path, watch: fn(&Path) -> io::Result<OwnedFd>) -> io::Result<Self> {
        let db = File::open(dir.join("db"))?;
        let blobs_dir = dir.join("blobs");
        // Watch before the initial sweep, so nothing falls in between.
        let blobs = match watch(&blobs_dir) {
            Ok(fd) => NewBlobs::Watch(fd),
            Err(e) => {
                tracing::warn!(error = %e, "no inotify watch on sled's blobs/: listing it at every flush");
                NewBlobs::List(HashSet::new())
            }
        };
        let mut barrier = Self {
            dir: dir.to_owned(),
            db,
            blobs,
            stats: BarrierStats::default(),
        };
        // Whatever a previous run (or an older Herald) left unsynced.
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                sync_file(&path)?;
            }
        }
        barrier.sync_listed_blobs()?;
        sync_dir(&blobs_dir)?;
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
        let new_blobs = match &self.blobs {
            NewBlobs::Watch(_) => self.sync_watched_blobs()?,
            NewBlobs::List(_) => self.sync_listed_blobs()?,
        };
        if new_blobs {
            sync_dir(&self.dir.join("blobs"))?;
        }
        self.db.sync_data()?;
        self.stats.barriers += 1;
        Ok(())
    }

    pub(super) fn stats(&self) -> BarrierStats {
        self.stats
    }

    /// Syncs the blobs whose writing ended since the last call. Returns
    /// whether there were any (then the directory needs a sync).
    fn sync_watched_blobs(&mut self) -> io::Result<bool> {
        let NewBlobs::Watch(fd) = &self.blobs else {
            return Ok(false);
        };
        let mut names = Vec::new();
        let mut overflow = false;
        let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
        let mut events = inotify::Reader::new(fd, &mut buf);
        loop {
            match events.next() {
                Ok(ev) if ev.events().contains(inotify::ReadFlags::QUEUE_OVERFLOW) => {
                    overflow = true
                }
                Ok(ev) => names.extend(ev.file_name().map(|n| n.to_bytes().to_vec())),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if overflow {
            // Events were lost: sync every blob, as at open.
            return self.sync_listed_blobs();
        }
        let blobs_dir = self.dir.join("blobs");
        let mut any = false;
        for name in names {
            let Some(name) = std::str::from_utf8(&name).ok().filter(|n| is_blob_name(n)) else {
                continue;
            };
            any |= self.sync_blob(&blobs_dir.join(name))?;
        }
        Ok(any)
    }

    /// Syncs each listed blob file not known to be synced (with a watch:
    /// every one, which happens at open and after a queue overflow).
    fn sync_listed_blobs(&mut self) -> io::Result<bool> {
        let mut present = HashSet::new();
        let mut any = false;
        for entry in std::fs::read_dir(self.dir.join("blobs"))? {
            let entry = entry?;
            // sled names blobs by LSN and ignores anything else.
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .filter(|n| is_blob_name(n))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let known = matches!(&self.blobs, NewBlobs::List(synced) if synced.contains(&lsn));
            if !known {
                any |= self.sync_blob(&entry.path())?;
            }
            present.insert(lsn);
        }
        if let NewBlobs::List(synced) = &mut self.blobs {
            // A removed name needs no sync before an acknowledgement: an
            // unreferenced blob that comes back after a crash is garbage.
            *synced = present;
        }
        Ok(any)
    }

    /// Returns false if sled removed the blob meanwhile (replaced).
    fn sync_blob(&mut self, path: &Path) -> io::Result<bool> {
        match sync_file(path) {
            Ok(()) => {
                self.stats.blob_files += 1;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn watch(blobs_dir: &Path) -> io::Result<OwnedFd> {
    let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
    inotify::add_watch(
        &fd,
        blobs_dir,
        inotify::WatchFlags::CLOSE_WRITE | inotify::WatchFlags::ONLYDIR,
    )?;
    Ok(fd)
}

fn is_blob_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn no_inotify(_: &Path) -> io::Result<OwnedFd> {
        Err(io::Error::other("test: no inotify"))
    }

    /// A directory shaped like sled's, with one blob already there.
    fn sled_like_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db"), b"log").unwrap();
        std::fs::write(dir.path().join("conf"), b"conf").unwrap();
        std::fs::create_dir(dir.path().join("blobs")).unwrap();
        std::fs::write(dir.path().join("blobs/100"), b"old").unwrap();
        dir
    }

    fn each_way(check: impl Fn(&Path, DiskBarrier)) {
        for how in [watch, no_inotify] {
            let dir = sled_like_dir();
            check(dir.path(), DiskBarrier::open_with(dir.path(), how).unwrap());
        }
    }

    #[test]
    fn open_syncs_existing_blobs_and_a_barrier_only_new_ones() {
        each_way(|dir, mut b| {
            assert_eq!(b.stats().blob_files, 1, "the blob found at open");
            b.sync().unwrap();
            assert_eq!(b.stats().blob_files, 1, "nothing new");
            std::fs::write(dir.join("blobs/200"), b"new").unwrap();
            std::fs::write(dir.join("blobs/300"), b"new").unwrap();
            std::fs::write(dir.join("blobs/not-a-blob"), b"x").unwrap();
            b.sync().unwrap();
            assert_eq!(b.stats().blob_files, 3);
            b.sync().unwrap();
            assert_eq!(
                b.stats(),
                BarrierStats {
                    barriers: 3,
                    blob_files: 3
                }
            );
        });
    }

    #[test]
    fn a_blob_removed_before_the_barrier_is_skipped() {
        each_way(|dir, mut b| {
            std::fs::write(dir.join("blobs/200"), b"new").unwrap();
            std::fs::remove_file(dir.join("blobs/200")).unwrap();
            b.sync().unwrap();
            assert_eq!(
                b.stats(),
                BarrierStats {
                    barriers: 1,
                    blob_files: 1
                }
            );
        });
    }

    #[test]
    fn a_missing_db_file_fails_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskBarrier::open(dir.path()).is_err());
    }
}
