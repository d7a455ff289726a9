//! A private PostgreSQL cluster for the tests: initdb into a temporary directory, loopback only,
//! a free port, stopped on drop. Run as the `postgres` user when the tests run as root (the
//! server refuses root). Missing server binaries fail the test, saying how to install them.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
    /// Server options beyond the defaults (TLS).
    extra: String,
    _dir: tempfile::TempDir,
}

/// The newest /usr/lib/postgresql/N/bin holding initdb and pg_ctl.
fn server_binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed under /usr/lib/postgresql/N/bin: \
             these tests need them; install them with `apt-get install postgresql` (.ci/run does)"
        )
    })
}

/// The `postgres` user's uid and gid, when running as root.
fn unprivileged_user() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").unwrap();
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "the tests run as root and PostgreSQL refuses root: create a `postgres` user (the Debian package `postgresql` does)"
    );
    let entry = unsafe { &*entry };
    Some((entry.pw_uid, entry.pw_gid))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Creates and starts a cluster.
    pub fn start() -> Postgres {
        let pg = Self::create();
        pg.start_again();
        pg
    }

    /// Creates and starts a cluster that accepts only TLS connections, with a self-signed
    /// certificate for 127.0.0.1; returns it with the certificate's PEM file.
    pub fn start_tls_only() -> (Postgres, PathBuf) {
        let mut pg = Self::create();
        let dir = pg._dir.path().to_path_buf();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let (cert, key, hba) = (
            dir.join("server.crt"),
            dir.join("server.key"),
            dir.join("hba.conf"),
        );
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        std::fs::write(
            &hba,
            "hostssl all all 127.0.0.1/32 trust\nlocal all all trust\n",
        )
        .unwrap();
        for file in [&cert, &key, &hba] {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some((uid, gid)) = pg.user {
                std::os::unix::fs::chown(file, Some(uid), Some(gid)).unwrap();
            }
        }
        pg.extra = format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c hba_file={}",
            cert.display(),
            key.display(),
            hba.display()
        );
        pg.start_again();
        (pg, cert)
    }

    fn create() -> Postgres {
        let bin = server_binaries();
        let dir = tempfile::tempdir().unwrap();
        let user = unprivileged_user();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let pg = Postgres {
            bin,
            data,
            port: free_port(),
            user,
            extra: String::new(),
            _dir: dir,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                pg.data.to_str().unwrap(),
                "-U",
                "webhook_dev",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .current_dir(self._dir.path());
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server (again) on the same port and data, once it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-k {} -c listen_addresses=127.0.0.1 -p {} -c fsync=off -c max_connections=200 -c shared_buffers=16MB{}",
            self._dir.path().display(),
            self.port,
            self.extra
        );
        let log = self._dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// Stops the server (fast shutdown: clients are disconnected, committed data is kept).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// The URL relays are given with `--queue`.
    pub fn url(&self) -> String {
        format!("postgres://webhook_dev@127.0.0.1:{}/postgres", self.port)
    }

    /// A connection for looking into the queue from a test.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

/// A TCP load balancer on 127.0.0.1:0: each connection goes to the first backend that accepts
/// it, in order, as a load balancer with health checks would once an instance is gone.
pub struct Balancer {
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Balancer {
    pub async fn start(backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let backends = backends.clone();
                let task = tokio::spawn(async move {
                    for backend in backends {
                        if let Ok(mut outbound) = TcpStream::connect(backend).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Balancer {
            addr,
            accept,
            connections,
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}
