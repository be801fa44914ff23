//! A run owns its experiment folder (SPEC §5): it holds an advisory lock on a file in the
//! folder for as long as it runs, so a second run into the same folder (a sweep script started
//! twice) stops at once instead of interleaving its files; then it removes what an earlier run
//! wrote there, so the folder never mixes two runs' results.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The lock file's name: hidden, and never removed (removing a lock file while another
/// process may be opening it would let two runs hold "the" lock on different files).
pub const LOCK_FILE: &str = ".pruningamr.lock";

/// The lock on an experiment folder; released when dropped (the lock dies with its file
/// handle, also when the process is killed).
#[derive(Debug)]
pub struct FolderLock {
    file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the folder's lock without waiting and writes this process's id into the lock
    /// file; a folder another run holds is a usage error naming that run's pid.
    pub fn acquire(dir: &Path) -> Result<FolderLock, Error> {
        let path = dir.join(LOCK_FILE);
        let write_err = Error::write(&path);
        // Not truncated on open: the pid in it belongs to whoever holds the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written its pid yet: then it is unknown.
                let pid = match file.read_to_string(&mut text) {
                    Ok(_) => text.trim().parse().ok(),
                    Err(_) => None,
                };
                return Err(Error::FolderInUse {
                    folder: dir.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::write(&path)(e)),
        }
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .and_then(|()| file.flush())
            .map_err(Error::write(&path))?;
        Ok(FolderLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Closing the handle releases the lock anyway; unlocking first says so explicitly,
        // and an error here leaves nothing to do.
        self.file.unlock().ok();
    }
}

/// Whether `name` is a file a run of this tool writes into its experiment folder:
/// `it_<N>.mesh`, `it_<N>.gf`, `it_<N>.png`, `convergence.png`, `parameters.json`, and the
/// hidden temporaries of those a killed run may have left (`.<name>.tmp<pid>`).
fn is_result_file(name: &str) -> bool {
    let name = match name.strip_prefix('.') {
        Some(hidden) => match hidden.rsplit_once(".tmp") {
            Some((base, pid)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => base,
            _ => return false,
        },
        None => name,
    };
    if name == "convergence.png" || name == super::parameters::FILE {
        return true;
    }
    let Some(rest) = name.strip_prefix("it_") else {
        return false;
    };
    let Some((n, ext)) = rest.split_once('.') else {
        return false;
    };
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && matches!(ext, "mesh" | "gf" | "png")
}

/// Removes what an earlier run wrote into `dir` (the files of [`is_result_file`] and the
/// `ParaView/` folder); anything else in the folder is left alone. Returns what was removed.
pub fn remove_earlier_results(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(Error::write(dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::write(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let kind = entry.file_type().map_err(Error::write(&path))?;
        if name == "ParaView" && kind.is_dir() {
            std::fs::remove_dir_all(&path).map_err(Error::write(&path))?;
        } else if kind.is_file() && is_result_file(name) {
            std::fs::remove_file(&path).map_err(Error::write(&path))?;
        } else {
            continue;
        }
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tools_own_files_count_as_results() {
        for yes in [
            "it_0.mesh",
            "it_12.gf",
            "it_3.png",
            "convergence.png",
            "parameters.json",
            ".it_4.gf.tmp1234",
            ".parameters.json.tmp77",
        ] {
            assert!(is_result_file(yes), "{yes}");
        }
        for no in [
            "it_.mesh",
            "it_a.gf",
            "it_1.vtu",
            "notes.txt",
            "my_it_1.mesh",
            ".it_1.gf.tmp",
            ".it_1.gf.tmpx",
            LOCK_FILE,
            "it_1.mesh.bak",
        ] {
            assert!(!is_result_file(no), "{no}");
        }
    }
}
