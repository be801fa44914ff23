//! Files in and out: reading a user's input file whole with a size cap (a device named by
//! mistake, `--mesh /dev/zero`, ends in an error instead of exhausting memory), and writing
//! every output file through a temporary name, fsync and rename, so an interrupted run never
//! leaves a torn file.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

/// The whole file, or an `InvalidData` error when it holds more than `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it holds more than {} MiB, more than this reader takes",
                cap >> 20
            ),
        )
    };
    let len = file.metadata()?.len();
    if len > cap {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(buf)
}

/// The temporary name `path` is written under: hidden, in the same folder (so the rename is
/// atomic), and unique to this process.
pub fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Writes `path` through a temporary file in the same folder, flushed to disk, then renamed
/// over `path`; on any error the temporary file is removed and an existing `path` is left as
/// it was. Errors name `path`.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if path.file_name().is_none() {
        return Err(with_path(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    }
    let tmp = temporary_name(path);
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the error being returned is the one that matters.
        fs::remove_file(&tmp).ok();
    }
    result.map_err(with_path)
}
