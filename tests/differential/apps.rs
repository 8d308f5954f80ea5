//! The real app servers placed behind the gateway, each with the three-area layout from
//! `apps/`, started on a free loopback port and killed when dropped. A server this machine
//! lacks is skipped, saying so (`.ci/run` installs them all).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct App {
    pub name: &'static str,
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/apps")
}

fn found(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts one server in a directory of its own on a port; `Err` says what is missing.
type Starter = fn(&Path, u16) -> Result<Child, String>;

/// Every app server this machine can run, started.
pub async fn start_all() -> Vec<App> {
    let mut apps = Vec::new();
    let starters: [(&str, Starter); 5] = [
        ("tomcat", tomcat),
        ("flask", flask),
        ("express", express),
        ("fastify", fastify),
        ("nginx", nginx),
    ];
    for (name, start) in starters {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::harness::free_port();
        match start(dir.path(), port) {
            Ok(child) => apps.push(App {
                name,
                addr: format!("127.0.0.1:{port}"),
                child,
                _dir: dir,
            }),
            Err(why) => eprintln!("SKIPPED {name}: {why}"),
        }
    }
    for app in apps.iter_mut() {
        wait_ready(app).await;
    }
    apps
}

async fn wait_ready(app: &mut App) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://{}/public/ready", app.addr)).await {
            if r.headers().contains_key("x-app") {
                return;
            }
        }
        if let Some(status) = app.child.try_wait().unwrap() {
            panic!("{} exited with {status}", app.name);
        }
        assert!(
            Instant::now() < deadline,
            "{} did not become ready",
            app.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(cmd: &mut Command, dir: &Path) -> Result<Child, String> {
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    cmd.stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())
}

/// Tomcat 10 from Debian's package, its default connector, the servlet compiled here.
fn tomcat(dir: &Path, port: u16) -> Result<Child, String> {
    let home = Path::new("/usr/share/tomcat10");
    if !home.join("bin/bootstrap.jar").exists() || !found("javac") || !found("java") {
        return Err(
            "needs tomcat10 and a JDK (apt-get install tomcat10 default-jdk-headless)".into(),
        );
    }
    let src = apps_dir().join("tomcat");
    let web = dir.join("webapps/ROOT/WEB-INF");
    std::fs::create_dir_all(web.join("classes")).map_err(|e| e.to_string())?;
    for d in ["conf", "logs", "temp", "work"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(src.join("WEB-INF/web.xml"), web.join("web.xml")).map_err(|e| e.to_string())?;
    std::fs::copy(src.join("server.xml"), dir.join("conf/server.xml"))
        .map_err(|e| e.to_string())?;
    for f in ["web.xml", "catalina.properties", "logging.properties"] {
        let from = Path::new("/etc/tomcat10").join(f);
        if from.exists() {
            std::fs::copy(from, dir.join("conf").join(f)).map_err(|e| e.to_string())?;
        }
    }
    let ok = Command::new("javac")
        .arg("-cp")
        .arg(home.join("lib/servlet-api.jar"))
        .arg("-d")
        .arg(web.join("classes"))
        .arg(src.join("Area.java"))
        .status()
        .map_err(|e| e.to_string())?;
    if !ok.success() {
        return Err("javac failed on Area.java".into());
    }
    let cp = format!(
        "{}:{}",
        home.join("bin/bootstrap.jar").display(),
        home.join("bin/tomcat-juli.jar").display()
    );
    spawn(
        Command::new("java")
            .arg(format!("-Dcatalina.home={}", home.display()))
            .arg(format!("-Dcatalina.base={}", dir.display()))
            .arg(format!("-Djava.io.tmpdir={}", dir.join("temp").display()))
            .arg(format!("-Darea.port={port}"))
            .args(["-Xms64m", "-Xmx256m", "-XX:TieredStopAtLevel=1"])
            .args(["-cp", &cp, "org.apache.catalina.startup.Bootstrap", "start"]),
        dir,
    )
}

/// Flask on Werkzeug's threaded server.
fn flask(dir: &Path, port: u16) -> Result<Child, String> {
    let has_flask = Command::new("python3")
        .args(["-c", "import flask"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_flask {
        return Err("needs Flask (pip install flask)".into());
    }
    spawn(
        Command::new("python3")
            .arg(apps_dir().join("flask_app.py"))
            .arg(port.to_string()),
        dir,
    )
}

fn node_app(dir: &Path, port: u16, script: &str, module: &str) -> Result<Child, String> {
    let node_dir = apps_dir().join("node");
    if !found("node") || !node_dir.join("node_modules").join(module).exists() {
        return Err(format!(
            "needs Node.js and `npm install` in {}",
            node_dir.display()
        ));
    }
    spawn(
        Command::new("node")
            .arg(node_dir.join(script))
            .arg(port.to_string()),
        dir,
    )
}

fn express(dir: &Path, port: u16) -> Result<Child, String> {
    node_app(dir, port, "express_app.js", "express")
}

fn fastify(dir: &Path, port: u16) -> Result<Child, String> {
    node_app(dir, port, "fastify_app.js", "fastify")
}

/// nginx as the app itself: `location` blocks answering with `return`.
fn nginx(dir: &Path, port: u16) -> Result<Child, String> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("needs nginx (apt-get install nginx-light)")?;
    let conf = std::fs::read_to_string(apps_dir().join("nginx.conf"))
        .map_err(|e| e.to_string())?
        .replace("__DIR__", &dir.display().to_string())
        .replace("__PORT__", &port.to_string());
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    spawn(
        Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"]),
        dir,
    )
}
