//! The access line, written without tracing's event machinery. Every proxied request writes
//! one, and going through `tracing` (a dispatch, a visitor per field, `fmt::Arguments` for
//! each) was ~4% of the gateway's CPU on a public route. A server writing plain text to the
//! batched writer ([`crate::logbuf`]) formats the line here, into a buffer of its thread, in
//! the same bytes tracing's format gives (tested below against it); anything else (JSON, a
//! terminal, a command) sends the event through `tracing` as before. The log filter still
//! decides: the line is written only when `access` events at INFO are enabled.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once by `main` for a server whose log lines are plain text to the batched writer.
static DIRECT: AtomicBool = AtomicBool::new(false);

pub fn write_directly() {
    DIRECT.store(true, Ordering::Relaxed);
}

/// One request's access line. Absent optional fields are left out, as tracing leaves out a
/// `None` value.
pub struct Access<'a> {
    pub method: &'a str,
    /// Already without its query (`observe::logged_path`).
    pub path: &'a str,
    pub status: u16,
    pub route: &'a str,
    pub user: Option<i64>,
    pub client: Option<IpAddr>,
    pub micros: u64,
    pub error: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl Access<'_> {
    /// Writes the line where the log filter lets it go.
    pub fn log(&self) {
        if !DIRECT.load(Ordering::Relaxed) {
            return self.through_tracing();
        }
        if !tracing::enabled!(target: crate::logfmt::ACCESS, tracing::Level::INFO) {
            return;
        }
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            if self.format(line).is_ok() {
                use std::io::Write as _;
                // The batched writer never fails.
                let _ = crate::logbuf::Appender.write_all(line.as_bytes());
            }
        });
    }

    fn through_tracing(&self) {
        tracing::info!(
            target: crate::logfmt::ACCESS,
            method = %self.method,
            path = %self.path,
            status = self.status,
            route = self.route,
            user = self.user,
            client = ?self.client,
            micros = self.micros,
            error = self.error,
            reason = self.reason,
            request_id = self.request_id,
        );
    }

    /// The line as `logfmt::Text` writes the event `through_tracing` sends.
    fn format(&self, w: &mut String) -> fmt::Result {
        crate::logfmt::timestamp(w)?;
        w.push_str("  INFO access: method=");
        w.push_str(self.method);
        w.push_str(" path=");
        w.push_str(self.path);
        w.push_str(" status=");
        w.push_str(itoa::Buffer::new().format(self.status));
        w.push_str(" route=");
        quoted(w, self.route)?;
        if let Some(user) = self.user {
            w.push_str(" user=");
            w.push_str(itoa::Buffer::new().format(user));
        }
        w.push_str(" client=");
        match self.client {
            Some(ip) => {
                w.push_str("Some(");
                crate::ipfmt::push(w, ip);
                w.push(')');
            }
            None => w.push_str("None"),
        }
        w.push_str(" micros=");
        w.push_str(itoa::Buffer::new().format(self.micros));
        for (name, value) in [
            (" error=", self.error),
            (" reason=", self.reason),
            (" request_id=", self.request_id),
        ] {
            if let Some(v) = value {
                w.push_str(name);
                quoted(w, v)?;
            }
        }
        w.push('\n');
        Ok(())
    }
}

/// `{:?}` of a string: printable ASCII without `"` or `\` needs no escape and is copied.
fn quoted(w: &mut String, s: &str) -> fmt::Result {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        w.push('"');
        w.push_str(s);
        w.push('"');
        Ok(())
    } else {
        write!(w, "{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logfmt::tests::Buf;

    fn lines() -> Vec<Access<'static>> {
        let base = Access {
            method: "GET",
            path: "/app/x",
            status: 200,
            route: "public",
            user: Some(42),
            client: Some([127, 0, 0, 1].into()),
            micros: 1234,
            error: None,
            reason: None,
            request_id: Some("4eb342d1-0b7e-4a57-9d67-58a33d8a7e2f"),
        };
        vec![
            Access { ..base },
            Access {
                method: "PROPFIND",
                path: "/a b/\u{e9}\"\\/%2F",
                status: 0,
                route: "a \"quoted\"\\ name\n\u{7f}\u{e9}",
                user: Some(-7),
                client: Some("2001:db8::1".parse().unwrap()),
                micros: u64::MAX,
                error: Some("ConnectionClosed"),
                reason: Some("Cross-site request refused"),
                request_id: None,
            },
            Access {
                user: None,
                client: None,
                route: "",
                path: "",
                reason: Some("tab\there"),
                ..base
            },
            Access {
                client: Some([255, 0, 10, 9].into()),
                status: 65535,
                user: Some(i64::MIN),
                ..base
            },
        ]
    }

    /// Splits off the timestamp (compared in `logfmt`'s own tests).
    fn without_time(text: &str) -> Vec<String> {
        text.lines().map(|l| l[27..].to_string()).collect()
    }

    #[test]
    fn direct_lines_are_tracings_own_bytes() {
        let buf = Buf::default();
        let out = buf.clone();
        // tracing's own format, not `logfmt::Text`, so the fast path there is checked too.
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || buf.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for l in lines() {
                l.through_tracing();
            }
        });
        let theirs = without_time(&out.text());
        let mut ours = String::new();
        for l in lines() {
            l.format(&mut ours).unwrap();
        }
        assert_eq!(without_time(&ours), theirs);
        assert_eq!(theirs.len(), 4);
    }
}
