//! The text log format. Every proxied request writes one access line, so that line is
//! formatted here directly: the timestamp's date and time are formatted once a second per
//! thread (only the microseconds change), and no colour wrappers are passed through. Every
//! other event, and any line for a terminal, goes to tracing's own `Full` format, whose output
//! the access line matches byte for byte (tested below against it).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// The target of the access-log events (`proxy::observe`).
pub const ACCESS: &str = "access";

/// tracing's default text format, with a fast path for access lines.
#[derive(Default)]
pub struct Text {
    full: format::Format,
}

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // Spans would go before the target; the access event is never inside one.
        if meta.target() != ACCESS || writer.has_ansi_escapes() || ctx.event_scope().is_some() {
            return self.full.format_event(ctx, writer, event);
        }
        timestamp(&mut writer)?;
        // The level as `FmtLevel` writes it without colour: right-aligned in five.
        write!(writer, " {:>5} {}: ", meta.level().as_str(), meta.target())?;
        let mut fields = Fields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// `2026-11-30T01:48:00.412832Z`, as tracing's `SystemTime` timer writes it.
pub(crate) fn timestamp(w: &mut impl fmt::Write) -> fmt::Result {
    thread_local! {
        /// The last second formatted on this thread, and its text up to the seconds.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    SECOND.with_borrow_mut(|(at, text)| {
        if *at != secs {
            text.clear();
            let whole = UNIX_EPOCH + std::time::Duration::from_secs(secs);
            // `…:SSZ`: kept without the `Z`.
            write!(text, "{}", humantime::format_rfc3339_seconds(whole))?;
            text.pop();
            *at = secs;
        }
        write!(w, "{text}.{:06}Z", now.subsec_micros())
    })
}

/// Fields as tracing's `DefaultVisitor` writes them without colour: `name=value`, separated by
/// a space, strings and debug values with `{:?}`, `message` bare.
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let sep = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        let name = field.name();
        self.result = match name {
            "message" => write!(self.writer, "{sep}{value}"),
            _ => write!(
                self.writer,
                "{sep}{}={value}",
                name.strip_prefix("r#").unwrap_or(name)
            ),
        };
    }
}

impl Visit for Fields<'_, '_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, format_args!("{value}"));
        } else {
            self.field(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    /// A log writer whose bytes a test reads back (`text`).
    #[derive(Clone, Default)]
    pub(crate) struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Buf {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn emit(fast: bool) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || buf.clone())
            .with_ansi(false);
        let events = || {
            let ip: Option<std::net::IpAddr> = Some([127, 0, 0, 1].into());
            let none: Option<i64> = None;
            tracing::info!(
                target: "access",
                method = %http::Method::GET,
                path = %"/app/x y\u{e9}",
                status = 200u16,
                route = "a \"quoted\"\\ name\n",
                user = Some(-7i64),
                skipped = none,
                client = ?ip,
                micros = 1234u64,
                error = Some("ConnectionClosed"),
                request_id = "4eb342d1",
            );
            tracing::info!(target: "access", "a message {}", 1);
            tracing::warn!(target: "access", r#type = 3, "warned");
            tracing::info!(target: "portcullis::other", n = 1, "not an access line");
        };
        if fast {
            tracing::subscriber::with_default(
                builder.event_format(Text::default()).finish(),
                events,
            );
        } else {
            tracing::subscriber::with_default(builder.finish(), events);
        }
        out.text()
    }

    /// Splits off the timestamp, checking it has tracing's shape.
    fn without_time(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| {
                let (time, rest) = l.split_at(27);
                let b = time.as_bytes();
                assert!(
                    b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[26] == b'Z',
                    "{time}"
                );
                assert!(time[20..26].bytes().all(|c| c.is_ascii_digit()), "{time}");
                rest.to_string()
            })
            .collect()
    }

    #[test]
    fn access_lines_match_tracings_own_format() {
        let ours = without_time(&emit(true));
        let theirs = without_time(&emit(false));
        assert_eq!(ours.len(), 4);
        assert_eq!(ours, theirs);
        assert!(
            ours[0].starts_with("  INFO access: method=GET path=/app/x y\u{e9} status=200 route=")
        );
    }

    #[test]
    fn the_timestamp_is_now() {
        let before = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let line = emit(true);
        let after = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let second = &line[..19];
        assert!(
            before[..19] <= *second && *second <= after[..19],
            "{second} not between {before} and {after}"
        );
    }
}
