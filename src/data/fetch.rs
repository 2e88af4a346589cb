//! `gradtop data fetch`: download a dataset's four files, verify their checksums, show progress.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};

use super::lookup::DatasetName;
use super::DataError;
use crate::atomic_file::AtomicFile;

/// A published checksum of a file; MNIST's mirrors publish SHA-256, Fashion-MNIST's upstream MD5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Hex SHA-256.
    Sha256(&'static str),
    /// Hex MD5 (the only sum Fashion-MNIST's authors publish).
    Md5(&'static str),
}

impl Checksum {
    /// The expected hex digest.
    pub fn hex(self) -> &'static str {
        match self {
            Checksum::Sha256(h) | Checksum::Md5(h) => h,
        }
    }
}

/// One file of a dataset as its mirrors serve it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    /// File name on the mirror and on disk.
    pub name: &'static str,
    /// Size in bytes as served.
    pub bytes: u64,
    /// The published checksum.
    pub checksum: Checksum,
}

/// MNIST as served by the PyTorch and TensorFlow dataset mirrors (identical files).
pub const MNIST_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        bytes: 9_912_422,
        checksum: Checksum::Sha256(
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        bytes: 28_881,
        checksum: Checksum::Sha256(
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        bytes: 1_648_877,
        checksum: Checksum::Sha256(
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        bytes: 4_542,
        checksum: Checksum::Sha256(
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
];

/// Fashion-MNIST as published by its authors (MD5 sums from their README).
pub const FASHION_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        bytes: 26_421_880,
        checksum: Checksum::Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        bytes: 29_515,
        checksum: Checksum::Md5("25c81989df183df01b3e8a0aad5dffbe"),
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        bytes: 4_422_102,
        checksum: Checksum::Md5("bef4ecab320f06d8554ea6380940ec79"),
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        bytes: 5_148,
        checksum: Checksum::Md5("bb300cfdad3c16e7a12a480ee83cd310"),
    },
];

/// Mirrors tried in order; `$GRADTOP_MIRROR` (a base URL) replaces them.
pub fn mirrors(name: DatasetName) -> Vec<String> {
    if let Some(m) = std::env::var("GRADTOP_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
    {
        return vec![m];
    }
    match name {
        DatasetName::Mnist => vec![
            "https://ossci-datasets.s3.amazonaws.com/mnist".into(),
            "https://storage.googleapis.com/cvdf-datasets/mnist".into(),
        ],
        DatasetName::FashionMnist => {
            vec!["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com".into()]
        }
        DatasetName::Digits | DatasetName::Folder => Vec::new(),
    }
}

/// The files a dataset consists of; none for the built-in digits.
pub fn remote_files(name: DatasetName) -> &'static [RemoteFile] {
    match name {
        DatasetName::Mnist => &MNIST_FILES,
        DatasetName::FashionMnist => &FASHION_FILES,
        DatasetName::Digits | DatasetName::Folder => &[],
    }
}

/// Hex digest of a file under the checksum's algorithm.
pub fn digest_file(path: &Path, kind: Checksum) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut sha = Sha256::new();
    let mut md5 = Md5::new();
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        match kind {
            Checksum::Sha256(_) => sha.update(&buf[..n]),
            Checksum::Md5(_) => md5.update(&buf[..n]),
        }
    }
    Ok(match kind {
        Checksum::Sha256(_) => hex(&sha.finalize()),
        Checksum::Md5(_) => hex(&md5.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a file against its published sum; on mismatch the file is deleted and the error says so.
pub fn verify(path: &Path, checksum: Checksum) -> Result<(), DataError> {
    let actual = digest_file(path, checksum)?;
    if actual == checksum.hex() {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    Err(DataError::Checksum {
        path: path.to_path_buf(),
        expected: checksum.hex().to_string(),
        actual,
    })
}

/// Progress of a download, reported so the caller can draw a bar.
pub trait FetchProgress {
    /// A new file starts; `total` is its size in bytes when known.
    fn start(&mut self, name: &str, total: Option<u64>);
    /// `done` bytes of the current file have arrived.
    fn advance(&mut self, done: u64);
    /// The current file is complete and verified.
    fn finish(&mut self, name: &str);
}

/// Downloads one URL into `dest` through a `.part` file, renamed only when complete.
fn download(url: &str, dest: &Path, progress: &mut dyn FetchProgress) -> Result<(), DataError> {
    let fail = |what: String| DataError::Download {
        url: url.to_string(),
        what,
    };
    let mut response = ureq::get(url).call().map_err(|e| fail(e.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    progress.start(
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
        total,
    );
    let io = |source| DataError::Io {
        path: dest.to_path_buf(),
        source,
    };
    // Streamed into a temporary file beside `dest`: an interrupted download leaves nothing
    // that could pass for the dataset.
    let mut out = AtomicFile::create(dest).map_err(io)?;
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| fail(format!("connection broke after {done} bytes: {e}")))?;
        if n == 0 {
            break;
        }
        out.file().write_all(&buf[..n]).map_err(io)?;
        done += n as u64;
        progress.advance(done);
    }
    if let Some(t) = total.filter(|&t| t != done) {
        return Err(fail(format!("got {done} of {t} bytes")));
    }
    out.commit().map_err(io)
}

/// Downloads and verifies a dataset into `dir` (default: the user cache dir), skipping files
/// already present with the right checksum. Returns the directory.
pub fn fetch(
    name: DatasetName,
    dir: Option<&Path>,
    progress: &mut dyn FetchProgress,
) -> Result<PathBuf, DataError> {
    if name == DatasetName::Folder {
        return Err(DataError::NotFound {
            name: name.to_string(),
            searched: Vec::new(),
            hint: name.fetch_hint(),
        });
    }
    if name == DatasetName::Digits {
        return Err(DataError::BuiltIn(name.to_string()));
    }
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => super::lookup::cache_dir(name).ok_or_else(|| DataError::Download {
            url: String::new(),
            what: "no user cache directory on this system: pass --dir".into(),
        })?,
    };
    std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    for file in remote_files(name) {
        let dest = dir.join(file.name);
        if dest.is_file() && digest_file(&dest, file.checksum)? == file.checksum.hex() {
            progress.finish(file.name);
            continue;
        }
        let mut last_err = None;
        for mirror in mirrors(name) {
            let url = format!("{}/{}", mirror.trim_end_matches('/'), file.name);
            match download(&url, &dest, progress) {
                Ok(()) => {
                    last_err = None;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(e) = last_err {
            return Err(e);
        }
        verify(&dest, file.checksum)?;
        progress.finish(file.name);
    }
    super::lookup::load_from_dir(name, &dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet(u64);
    impl FetchProgress for Quiet {
        fn start(&mut self, _: &str, _: Option<u64>) {}
        fn advance(&mut self, done: u64) {
            self.0 = done;
        }
        fn finish(&mut self, _: &str) {}
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            digest_file(&p, Checksum::Sha256("")).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_file(&p, Checksum::Md5("")).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn mismatch_deletes_the_file_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train-images-idx3-ubyte.gz");
        std::fs::write(&p, b"not mnist").unwrap();
        let err = verify(&p, MNIST_FILES[0].checksum).unwrap_err().to_string();
        assert!(
            err.contains("checksum mismatch") && err.contains("deleted"),
            "{err}"
        );
        assert!(!p.exists());
    }

    #[test]
    fn downloads_over_http_into_place() {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let body = b"hello idx".to_vec();
        let served = body.clone();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                served.len()
            )
            .unwrap();
            stream.write_all(&served).unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.gz");
        let mut progress = Quiet(0);
        download(&format!("http://{addr}/f.gz"), &dest, &mut progress).unwrap();
        server.join().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), body);
        assert_eq!(progress.0, body.len() as u64);
        assert!(!dest.with_extension("part").exists());
    }
}
