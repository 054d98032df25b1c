use std::io::Read;

use sha2::{Digest, Sha256};

use crate::{EncoderError, ModelFolder, Result};

/// A hex SHA-256 over the weights and tokenizer files: two folders with the same fingerprint embed
/// text identically, so an index can refuse queries encoded by a different model.
pub fn fingerprint(folder: &ModelFolder) -> Result<String> {
    let mut hasher = Sha256::new();
    for path in [&folder.weights, &folder.tokenizer] {
        let mut file = std::fs::File::open(path).map_err(|source| EncoderError::Io {
            path: path.clone(),
            source,
        })?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|source| EncoderError::Io {
                path: path.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}
