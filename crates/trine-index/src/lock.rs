//! One writer at a time: an advisory lock on `IDX/.writer.lock`, holding the writer's pid.
//!
//! Every write (build, add, delete, a new fusion default) takes the lock for its duration; readers
//! never touch it. The lock is the kernel's (`flock`), so a writer killed with SIGKILL releases it
//! with its last breath: the next writer takes over and is told that the previous one did not
//! finish (its pid is still in the file). A caller that wants to queue, or to make several writes
//! as one (the server, `--wait`), takes the lock first with [`WriterLock::acquire`]; writes made on
//! the same thread while it is held use it instead of locking again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use crate::{IndexError, Result};

/// Name of the lock file in an index folder.
pub const WRITER_LOCK: &str = ".writer.lock";

/// What to do when another process (or thread) is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Fail at once with [`IndexError::Locked`].
    #[default]
    No,
    /// Block until the other writer is done.
    Yes,
}

struct Held {
    file: File,
}

impl Drop for Held {
    fn drop(&mut self) {
        // An empty file tells the next writer this one finished; the lock goes with the file.
        let _ = self.file.set_len(0);
    }
}

thread_local! {
    static HELD: RefCell<HashMap<PathBuf, Weak<Held>>> = RefCell::new(HashMap::new());
}

/// The right to write to one index; released when dropped.
pub struct WriterLock {
    _held: Rc<Held>,
    stale: Option<u32>,
}

impl WriterLock {
    /// Takes the writer lock of the index in `root` (creating the folder if needed).
    pub fn acquire(root: &Path, wait: Wait) -> Result<WriterLock> {
        std::fs::create_dir_all(root).map_err(|e| IndexError::io(root, e))?;
        let key = root.canonicalize().map_err(|e| IndexError::io(root, e))?;
        if let Some(held) = HELD.with(|h| h.borrow().get(&key).and_then(Weak::upgrade)) {
            return Ok(WriterLock {
                _held: held,
                stale: None,
            });
        }
        let path = root.join(WRITER_LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| IndexError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait == Wait::Yes => {
                file.lock().map_err(|e| IndexError::io(&path, e))?
            }
            Err(TryLockError::WouldBlock) => {
                return Err(IndexError::Locked {
                    path: root.to_path_buf(),
                    holder: holder(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(IndexError::io(&path, e)),
        }
        let stale = holder(&mut file);
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(|e| IndexError::io(&path, e))?;
        let held = Rc::new(Held { file });
        HELD.with(|h| h.borrow_mut().insert(key, Rc::downgrade(&held)));
        Ok(WriterLock { _held: held, stale })
    }

    /// The pid of a writer that held the lock before and ended without finishing (killed or
    /// crashed); its half-written generation is never live and is cleared by this writer.
    pub fn took_over_from(&self) -> Option<u32> {
        self.stale
    }
}

/// The pid written in a lock file, if any.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
