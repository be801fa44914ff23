//! Reading network files and the zip archives PyTorch and numpy write, with caps on what a
//! small or hostile file can make us allocate.

use std::io::{Cursor, Read};
use std::path::Path;

use super::error::CheckpointError;

/// The largest network file read: far above any INR.
const MAX_FILE_BYTES: u64 = 2 << 30;

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    crate::io::read_capped(path, MAX_FILE_BYTES).map_err(|source| CheckpointError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Zip archives are opened with the archive known to start at byte 0: torch writes a zip64
/// end record that makes the `zip` crate's offset detection misplace the central directory.
pub(crate) type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

pub(crate) fn open_zip<'a>(bytes: &'a [u8], path: &Path) -> Result<Archive<'a>, CheckpointError> {
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    zip::ZipArchive::with_config(config, Cursor::new(bytes))
        .map_err(|e| CheckpointError::zip(path, e))
}

/// The largest archive member we inflate: far above any INR, far below what would exhaust
/// memory on a decompression bomb.
const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// Members up to this size may compress any amount (a pickle of repeated opcodes does).
const MAX_RATIO_FREE_BYTES: u64 = 32 << 20;
/// Above it, the largest inflation accepted.
const MAX_RATIO: u64 = 256;

/// Reads one archive member whole, checking its declared size (and, through the zip reader,
/// its CRC).
pub(crate) fn read_member(
    archive: &mut Archive<'_>,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<u8>>, CheckpointError> {
    let mut file = match archive.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(CheckpointError::zip(path, format!("member {name}: {e}"))),
    };
    let size = file.size();
    if size > MAX_MEMBER_BYTES {
        return Err(CheckpointError::zip(
            path,
            format!("member {name} claims {size} bytes, more than a network file may hold"),
        ));
    }
    // Weights hardly compress; a large member inflating hundreds of times is a zip bomb,
    // which would cost gigabytes of memory for a file of a few kilobytes.
    let packed = file.compressed_size().max(1);
    if size > MAX_RATIO_FREE_BYTES && size / packed > MAX_RATIO {
        return Err(CheckpointError::zip(
            path,
            format!(
                "member {name} inflates from {packed} to {size} bytes; a network's arrays do \
                 not compress {MAX_RATIO}-fold (a zip bomb?)"
            ),
        ));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
    (&mut file)
        .take(size + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CheckpointError::zip(path, format!("member {name}: {e}")))?;
    if buf.len() as u64 != size {
        return Err(CheckpointError::zip(
            path,
            format!(
                "member {name} holds {} bytes but its header says {size}",
                buf.len()
            ),
        ));
    }
    Ok(Some(buf))
}

pub(crate) fn member_names(archive: &Archive<'_>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect()
}
