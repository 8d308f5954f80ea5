//! Outgoing mail: a bounded queue drained by a background worker, so a slow or failing SMTP
//! server never holds up a request. Delivery is retried with backoff; outcomes are counted.

pub mod templates;

use crate::config::{Mail as MailConfig, MailTransport, SmtpSecurity};
use lettre::message::{header::ContentType, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;
use tokio::sync::mpsc;

pub use templates::Kind;

/// A message ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: lettre::message::Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    tx: mpsc::Sender<Outgoing>,
    cfg: MailConfig,
}

const QUEUE: usize = 1024;
const ATTEMPTS: u32 = 5;

/// Why mail cannot be sent at all (found at start).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail outbox {dir}")]
    Outbox {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("mail.smtp")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Mailer {
    /// Builds the transport and starts the worker on the current tokio runtime.
    pub fn start(cfg: &MailConfig) -> Result<Self, MailError> {
        let transport = match &cfg.transport {
            MailTransport::Outbox(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| MailError::Outbox {
                    dir: dir.clone(),
                    source,
                })?;
                Transport::Outbox(AsyncFileTransport::new(dir))
            }
            MailTransport::Smtp(s) => {
                let builder = match s.security {
                    SmtpSecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    }
                    SmtpSecurity::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?
                    }
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
                };
                let mut builder = builder.port(s.port).timeout(Some(s.timeout));
                if let (Some(u), Some(p)) = (&s.username, &s.password) {
                    builder = builder
                        .credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
                }
                Transport::Smtp(builder.build())
            }
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(worker(rx, transport, cfg.from.clone()));
        Ok(Mailer {
            tx,
            cfg: cfg.clone(),
        })
    }

    /// Renders and queues a message; never waits for delivery.
    pub fn send(&self, kind: Kind, to_email: &str, to_name: &str, link: &str, ttl: Duration) {
        let Ok(address) = to_email.parse::<lettre::Address>() else {
            tracing::warn!("mail not sent: recipient address is not deliverable");
            return;
        };
        let ttl = humantime::format_duration(ttl).to_string();
        let (text, html) =
            match templates::render(kind, &self.cfg.product_name, to_name, link, &ttl) {
                Ok(bodies) => bodies,
                Err(e) => {
                    tracing::error!(error = %e, "mail template failed");
                    crate::metrics::mail("failed");
                    return;
                }
            };
        let mail = Outgoing {
            to: lettre::message::Mailbox::new(Some(to_name.to_string()), address),
            subject: kind.subject(&self.cfg.product_name),
            text,
            html,
        };
        if self.tx.try_send(mail).is_err() {
            tracing::error!("mail queue full; message dropped");
            crate::metrics::mail("dropped");
        } else {
            crate::metrics::mail("queued");
        }
        crate::metrics::METRICS
            .mail_queued
            .set((QUEUE - self.tx.capacity()) as i64);
    }
}

async fn worker(
    mut rx: mpsc::Receiver<Outgoing>,
    transport: Transport,
    from: lettre::message::Mailbox,
) {
    while let Some(mail) = rx.recv().await {
        crate::metrics::METRICS.mail_queued.set(rx.len() as i64);
        let message = match build(&mail, &from) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "mail could not be built");
                crate::metrics::mail("failed");
                continue;
            }
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let result = match &transport {
                Transport::Smtp(t) => t
                    .send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Transport::Outbox(t) => t
                    .send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => {
                    crate::metrics::mail("sent");
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "mail delivery failed; retrying");
                    crate::metrics::mail("retried");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    tracing::error!(attempts = ATTEMPTS, error = %e, "mail delivery failed; giving up");
                    crate::metrics::mail("failed");
                }
            }
        }
    }
}

fn build(
    mail: &Outgoing,
    from: &lettre::message::Mailbox,
) -> Result<Message, lettre::error::Error> {
    Message::builder()
        .from(from.clone())
        .to(mail.to.clone())
        .subject(mail.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )
}
