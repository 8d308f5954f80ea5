//! A real PostgreSQL for the tests: `initdb` into a temp directory and a server on a free
//! loopback port, started by the harness itself. As root (CI), the server runs as the
//! `postgres` user, since PostgreSQL refuses to run as root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The directory holding `initdb`, `pg_ctl`, `postgres` and `psql`, if this machine has one.
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    dirs.sort();
    dirs.reverse();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// The server of the suite-wide instance (see [`shared`]); owned instances use `pg_ctl`.
    watchdog: Option<Child>,
}

const SETPRIV: [&str; 4] = [
    "--reuid=postgres",
    "--regid=postgres",
    "--init-groups",
    "--",
];

fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    })
}

/// `cmd` as the `postgres` user when we are root.
fn as_db_user(program: &Path) -> Command {
    if running_as_root() {
        // setpriv execs in place (no forking wrapper), so signals reach the server itself.
        let mut c = Command::new("setpriv");
        c.args(SETPRIV).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_db_user(path: &Path) {
    if !running_as_root() {
        return;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    std::os::unix::fs::chown(path, Some(id("-u")), Some(id("-g"))).unwrap();
}

impl Postgres {
    /// A fresh cluster (not yet started).
    fn init() -> Option<Postgres> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("portcullis-pg")
            .tempdir()
            .unwrap();
        chown_to_db_user(dir.path());
        let data = dir.path().join("data");
        let out = as_db_user(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Postgres {
            dir,
            bin,
            port: crate::harness::free_port(),
            watchdog: None,
        })
    }

    fn server_options(&self) -> String {
        format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.path().display()
        )
    }

    /// A cluster of the test's own, which it may stop and start; stopped on drop.
    pub fn start() -> Option<Postgres> {
        let pg = Postgres::init()?;
        pg.up();
        Some(pg)
    }

    pub fn up(&self) {
        let out = as_db_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-o", &self.server_options(), "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once, dropping every connection (a crash, as far as clients see).
    pub fn down(&self) {
        let _ = as_db_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    pub fn run_psql(&self, db: &str, sql: &str) -> std::process::Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .unwrap()
    }

    /// Runs `sql` in database `db` and returns what psql printed.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.run_psql(db, sql);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Creates database `name` (if missing) and returns its URL.
    pub fn database(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.run_psql("postgres", &format!("CREATE DATABASE \"{name}\""));
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || err.contains("already exists") {
                break;
            }
            assert!(Instant::now() < deadline, "CREATE DATABASE failed: {err}");
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        match self.watchdog.take() {
            Some(mut w) => {
                let _ = w.kill();
            }
            None => self.down(),
        }
    }
}

/// The suite-wide cluster for a test only the PostgreSQL pass (`gateway_pg`) runs: `None` in
/// the SQLite pass, and, saying so, where PostgreSQL is not installed.
pub fn for_this_pass() -> Option<&'static Postgres> {
    if !crate::ON_POSTGRES {
        return None;
    }
    let pg = shared();
    if pg.is_none() {
        eprintln!("SKIPPED: no PostgreSQL on this machine");
    }
    pg
}

/// The suite-wide cluster, started on first use. It is never dropped, so it runs under a
/// watchdog shell that stops it when this test process exits and closes the shell's stdin.
pub fn shared() -> Option<&'static Postgres> {
    static SHARED: OnceLock<Option<Postgres>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let mut pg = Postgres::init()?;
            let data = pg.dir.path().join("data");
            let postgres = pg.bin.join("postgres");
            let user = if running_as_root() {
                format!("setpriv {} ", SETPRIV.join(" "))
            } else {
                String::new()
            };
            // The cluster outlives every Rust destructor, so the shell also removes its
            // directory (about 1 GB) once postgres is down.
            let script = format!(
                "{user}{} -D {} {} >{} 2>&1 & pid=$!; read _; kill -QUIT $pid; wait $pid; rm -rf {}",
                postgres.display(),
                data.display(),
                pg.server_options(),
                pg.dir.path().join("server.log").display(),
                pg.dir.path().display(),
            );
            let child = Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            pg.watchdog = Some(child);
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::net::TcpStream::connect(("127.0.0.1", pg.port)).is_err() {
                assert!(Instant::now() < deadline, "postgres did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(pg)
        })
        .as_ref()
}
