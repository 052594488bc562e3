//! The index folder as tantivy sees it: tantivy's memory-mapped folder, with two changes for
//! two uses.
//!
//! - Searching ([`Dir::read_only`]): no lock file. Searching an archived run on a read-only
//!   share must not need the lock file tantivy's reader creates while it opens segments.
//! - Building ([`Dir::build`]): segments are read with `pread` into buffers instead of through
//!   mappings. The writer reads segments back only to merge them, each byte about once; through
//!   a mapping every page it read stayed in the process's resident memory until the merge
//!   dropped its source segments, up to ~1.2 GB of the index stage's peak at ten million
//!   petitions (docs/scale.md, seventeenth measurement). Read into buffers, the same bytes pass
//!   through the page cache, which the kernel reclaims as it needs, and a buffer lives as long
//!   as tantivy holds it.
//!
//! Everything else is the plain folder (writes fail as the file system says).

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle,
    WritePtr,
};
use tantivy::HasLen;

/// An index folder opened for one use (see the module docs).
#[derive(Debug, Clone)]
pub(super) struct Dir {
    mmap: MmapDirectory,
    root: PathBuf,
    use_: Use,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    ReadOnly,
    Build,
}

impl Dir {
    /// `root` for searching only: no lock file.
    pub(super) fn read_only(
        root: &Path,
    ) -> Result<Dir, tantivy::directory::error::OpenDirectoryError> {
        Dir::open(root, Use::ReadOnly)
    }

    /// `root` for an index writer: segments read into buffers, not mapped.
    pub(super) fn build(root: &Path) -> Result<Dir, tantivy::directory::error::OpenDirectoryError> {
        Dir::open(root, Use::Build)
    }

    fn open(root: &Path, use_: Use) -> Result<Dir, tantivy::directory::error::OpenDirectoryError> {
        Ok(Dir {
            mmap: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
            use_,
        })
    }
}

/// A segment file read with `pread`. (tantivy-common's `WrapFile` does the same but fails on an
/// empty range, which tantivy asks for where a file or a term's part of it is empty.)
#[derive(Debug)]
struct Pread {
    file: File,
    len: usize,
}

impl HasLen for Pread {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for Pread {
    fn read_bytes(&self, range: Range<usize>) -> std::io::Result<OwnedBytes> {
        if range.is_empty() {
            return Ok(OwnedBytes::empty());
        }
        if range.end > self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("bytes {range:?} of a {}-byte segment file", self.len),
            ));
        }
        let mut buf = vec![0; range.len()];
        self.file.read_exact_at(&mut buf, range.start as u64)?;
        Ok(OwnedBytes::new(buf))
    }
}

impl tantivy::Directory for Dir {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if self.use_ != Use::Build {
            return self.mmap.get_file_handle(path);
        }
        let file = File::open(self.root.join(path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?
            .len() as usize;
        Ok(Arc::new(Pread { file, len }))
    }
    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mmap.delete(path)
    }
    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mmap.exists(path)
    }
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mmap.open_write(path)
    }
    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mmap.atomic_read(path)
    }
    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.mmap.atomic_write(path, data)
    }
    fn sync_directory(&self) -> std::io::Result<()> {
        self.mmap.sync_directory()
    }
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        match self.use_ {
            Use::ReadOnly => Ok(DirectoryLock::from(Box::new(()))),
            Use::Build => self.mmap.acquire_lock(lock),
        }
    }
    fn watch(&self, cb: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mmap.watch(cb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pread_handle_reads_ranges_and_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seg.idx"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("empty.pos"), b"").unwrap();
        let folder = Dir::build(dir.path()).unwrap();
        let h = tantivy::Directory::get_file_handle(&folder, Path::new("seg.idx")).unwrap();
        assert_eq!(h.len(), 10);
        assert_eq!(h.read_bytes(2..5).unwrap().as_slice(), b"234");
        assert!(h.read_bytes(4..4).unwrap().is_empty());
        assert!(h.read_bytes(8..12).is_err(), "past the end");
        let e = tantivy::Directory::get_file_handle(&folder, Path::new("empty.pos")).unwrap();
        assert!(e.read_bytes(0..0).unwrap().is_empty());
        assert!(matches!(
            tantivy::Directory::get_file_handle(&folder, Path::new("gone.idx")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
