//! Reading a user's input file whole, with a size cap: a device or pipe named by mistake
//! (`--mesh /dev/zero`) ends in an error instead of exhausting memory.

use std::io::{self, Read};
use std::path::Path;

/// The whole file, or an `InvalidData` error when it holds more than `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
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
