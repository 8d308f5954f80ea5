//! Checks made before the gateway starts serving, so that a start that cannot succeed fails at
//! once with one line naming what failed (address, file, setting) instead of retrying, hanging
//! or leaving a process that does not serve.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

/// An address that cannot be listened on, with the setting that names it.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({setting})")]
pub struct ListenError {
    addr: SocketAddr,
    setting: &'static str,
    source: std::io::Error,
}

/// A data directory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("server.data_dir {dir} is not a writable directory")]
pub struct DataDirError {
    dir: PathBuf,
    source: std::io::Error,
}

/// Binds `addr` now. Pingora binds the proxy's own sockets later and, when the port is taken,
/// retries for 30 s and then panics in a service thread; this makes that case an immediate,
/// clear failure. `setting` names the config key.
pub fn bind(addr: SocketAddr, setting: &'static str) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).map_err(|source| ListenError {
        addr,
        setting,
        source,
    })
}

/// Whether `addr` can be listened on; the probe socket is closed again at once.
pub fn check_can_listen(addr: SocketAddr, setting: &'static str) -> Result<(), ListenError> {
    bind(addr, setting).map(drop)
}

/// `server.data_dir` exists (it is created) and files can be written in it.
pub fn check_data_dir(dir: &Path) -> Result<(), DataDirError> {
    let fail = |source| DataDirError {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => url.split('?').next().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_names_its_address_and_setting() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let e = check_can_listen(addr, "server.listen").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot listen on {addr} (server.listen)")
        );
        assert!(
            std::error::Error::source(&e).is_some(),
            "the cause comes with it"
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://data/p.db"), "sqlite://data/p.db");
    }

    #[test]
    fn a_data_dir_that_cannot_be_written_is_named() {
        let e = check_data_dir(Path::new("/dev/null/data")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("server.data_dir /dev/null/data is not"));
    }
}
