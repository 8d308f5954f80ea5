//! The LDAP directory (ldap3 over TCP, StartTLS or LDAPS with rustls). A few service-account
//! connections stay open for searches; each sign-in binds as the person on a connection of
//! its own, closed after. Every operation has the configured timeout and is counted
//! (`portcullis_directory_requests_total{operation, result}` and its latency histogram).

use super::{filters, DirError, Directory, Entry, SignIn};
use crate::config::{Ldap, LdapTls};
use async_trait::async_trait;
use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Instant;

/// RFC 4511 `invalidCredentials`.
const INVALID_CREDENTIALS: u32 = 49;
/// How many ids one refresh search asks for.
const BATCH: usize = 50;

pub struct LdapDirectory {
    cfg: Ldap,
    /// Set when `ca_file` names the certificates to trust; else the system's.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Service-account connections, bound, waiting for the next search.
    idle: std::sync::Mutex<Vec<ldap3::Ldap>>,
    /// At most `pool_size` service operations at once...
    slots: tokio::sync::Semaphore,
    /// ...and at most `pool_size` people's binds: a flood of sign-ins queues here rather than
    /// opening connection after connection to the directory.
    bind_slots: tokio::sync::Semaphore,
}

/// Whether an error is the connection's (unreachable, closed, timed out) rather than an
/// answer of the server's.
fn unreachable(e: &LdapError) -> bool {
    !matches!(e, LdapError::LdapResult { .. } | LdapError::FilterParsing)
}

fn classify(e: LdapError) -> DirError {
    if unreachable(&e) {
        DirError::Unreachable(e.to_string())
    } else {
        DirError::Failed(e.to_string())
    }
}

/// Counts one operation by its outcome and time.
fn counted<T>(operation: &'static str, started: Instant, r: &Result<T, DirError>) {
    let result = match r {
        Ok(_) => "ok",
        Err(DirError::Unreachable(_)) => "unreachable",
        Err(DirError::ServiceAccount(_)) => "refused",
        Err(DirError::Failed(_)) => "error",
    };
    crate::metrics::directory_request(operation, result, started.elapsed());
}

impl LdapDirectory {
    pub fn new(cfg: &Ldap) -> Result<Self, DirError> {
        let tls = match &cfg.ca_file {
            None => None,
            Some(file) => {
                use rustls_pki_types::pem::PemObject;
                let mut roots = rustls::RootCertStore::empty();
                let certs = rustls_pki_types::CertificateDer::pem_file_iter(file)
                    .map_err(|e| DirError::Failed(format!("{}: {e}", file.display())))?;
                for c in certs.flatten() {
                    roots
                        .add(c)
                        .map_err(|e| DirError::Failed(format!("{}: {e}", file.display())))?;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| DirError::Failed(e.to_string()))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Some(Arc::new(config))
            }
        };
        Ok(LdapDirectory {
            slots: tokio::sync::Semaphore::new(cfg.pool_size),
            bind_slots: tokio::sync::Semaphore::new(cfg.pool_size),
            idle: Default::default(),
            tls,
            cfg: cfg.clone(),
        })
    }

    /// A new connection, TLS as configured, not bound.
    async fn connect(&self) -> Result<ldap3::Ldap, DirError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.cfg.timeout)
            .set_starttls(self.cfg.tls == LdapTls::StartTls);
        if let Some(c) = &self.tls {
            settings = settings.set_config(c.clone());
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.cfg.url)
            .await
            .map_err(|e| DirError::Unreachable(e.to_string()))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// A service-account connection: an idle one, or a new one bound now.
    async fn service(&self) -> Result<ldap3::Ldap, DirError> {
        if let Some(l) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(l);
        }
        let started = Instant::now();
        let mut l = self.connect().await?;
        let r = l
            .with_timeout(self.cfg.timeout)
            .simple_bind(&self.cfg.bind_dn, self.cfg.bind_password.expose_secret())
            .await
            .map_err(classify)
            .and_then(|res| match res.rc {
                0 => Ok(()),
                rc => Err(DirError::ServiceAccount(format!(
                    "bind as {} answered {rc} {}",
                    self.cfg.bind_dn, res.text
                ))),
            });
        counted("bind_service", started, &r);
        r.map(|()| l)
    }

    /// Runs `op` on a service connection; a connection found dead (the server restarted) is
    /// replaced once.
    async fn with_service<T, F, Fut>(&self, op: F) -> Result<T, DirError>
    where
        F: Fn(ldap3::Ldap) -> Fut,
        Fut: std::future::Future<Output = (ldap3::Ldap, Result<T, DirError>)>,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| DirError::Failed(e.to_string()))?;
        for attempt in 0..2 {
            let l = self.service().await?;
            let (l, r) = op(l).await;
            match r {
                Err(DirError::Unreachable(_)) if attempt == 0 => {
                    // One dead connection means the server went away since: the others idle
                    // beside it are dead too. Drop them all and try once on a new one.
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.clear();
                    }
                    continue;
                }
                Err(DirError::Unreachable(why)) => return Err(DirError::Unreachable(why)),
                r => {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(l);
                    }
                    return r;
                }
            }
        }
        Err(DirError::Unreachable("no connection".into()))
    }

    /// The entries `filter` selects under `base`, with `attrs`.
    async fn search(
        &self,
        mut l: ldap3::Ldap,
        operation: &'static str,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> (ldap3::Ldap, Result<Vec<SearchEntry>, DirError>) {
        let started = Instant::now();
        let r = l
            .with_timeout(self.cfg.timeout)
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(classify)
            .and_then(|found| found.success().map_err(classify))
            .and_then(|(entries, _)| {
                // ldap3 panics on an entry it cannot parse: a broken answer is an error here.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    entries.into_iter().map(SearchEntry::construct).collect()
                }))
                .map_err(|_| DirError::Failed("an entry the client could not parse".into()))
            });
        counted(operation, started, &r);
        (l, r)
    }

    /// The person an entry is, without groups; `None` without an id.
    fn person(&self, e: &SearchEntry) -> Option<Entry> {
        let u = &self.cfg.users;
        let first = |attr: &str| {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                .and_then(|(_, v)| v.first().cloned())
        };
        let id = first(&u.id_attribute).or_else(|| {
            e.bin_attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&u.id_attribute))
                .and_then(|(_, v)| v.first())
                .and_then(|b| filters::guid_string(b))
        })?;
        Some(Entry {
            id,
            dn: e.dn.clone(),
            email: first(&u.email_attribute).map(|m| m.trim().to_ascii_lowercase()),
            name: first(&u.name_attribute),
            groups: Vec::new(),
        })
    }

    fn user_attrs(&self) -> Vec<String> {
        let u = &self.cfg.users;
        vec![
            u.id_attribute.clone(),
            u.email_attribute.clone(),
            u.name_attribute.clone(),
        ]
    }

    /// The groups of the entry `dn` found by `login`.
    async fn groups_of(
        &self,
        l: ldap3::Ldap,
        dn: &str,
        login: &str,
    ) -> (ldap3::Ldap, Result<Vec<String>, DirError>) {
        let Some(g) = &self.cfg.groups else {
            return (l, Ok(Vec::new()));
        };
        let filter = filters::groups(&g.filter, dn, login);
        let (l, r) = self
            .search(
                l,
                "groups",
                &g.base_dn,
                &filter,
                vec![g.name_attribute.clone()],
            )
            .await;
        let names = r.map(|entries| {
            let mut names: Vec<String> = entries
                .iter()
                .flat_map(|e| {
                    e.attrs
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(&g.name_attribute))
                        .flat_map(|(_, v)| v.iter().cloned())
                })
                .filter(|n| crate::groups::valid(n))
                .collect();
            names.sort();
            names.dedup();
            names
        });
        (l, names)
    }

    /// Binds as `dn` with `password` on a connection of its own.
    async fn bind_as(&self, dn: &str, password: &SecretString) -> Result<bool, DirError> {
        let _slot = self
            .bind_slots
            .acquire()
            .await
            .map_err(|e| DirError::Failed(e.to_string()))?;
        let started = Instant::now();
        let r = async {
            let mut l = self.connect().await?;
            let res = l
                .with_timeout(self.cfg.timeout)
                .simple_bind(dn, password.expose_secret())
                .await
                .map_err(classify)?;
            let _ = l.unbind().await;
            match res.rc {
                0 => Ok(true),
                INVALID_CREDENTIALS => Ok(false),
                rc => Err(DirError::Failed(format!("bind answered {rc} {}", res.text))),
            }
        }
        .await;
        counted("bind_user", started, &r);
        r
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn sign_in(&self, login: &str, password: &SecretString) -> Result<SignIn, DirError> {
        // An empty password is an unauthenticated bind, which most servers accept: never sent.
        if password.expose_secret().is_empty() {
            return Ok(SignIn::WrongPassword);
        }
        if login.trim().is_empty() {
            return Ok(SignIn::Unknown);
        }
        let u = &self.cfg.users;
        let filter = filters::user(&u.filter, login);
        let found = self
            .with_service(|l| self.search(l, "search", &u.base_dn, &filter, self.user_attrs()))
            .await?;
        let mut people: Vec<Entry> = found.iter().filter_map(|e| self.person(e)).collect();
        if people.len() != 1 {
            if people.len() > 1 {
                tracing::warn!(
                    entries = people.len(),
                    "directory sign-in refused: the login names more than one entry (narrow directory.ldap.users.filter)"
                );
            }
            return Ok(SignIn::Unknown);
        }
        let mut person = people.remove(0);
        if !self.bind_as(&person.dn, password).await? {
            return Ok(SignIn::WrongPassword);
        }
        let dn = person.dn.clone();
        person.groups = self.with_service(|l| self.groups_of(l, &dn, login)).await?;
        Ok(SignIn::Entry(person))
    }

    async fn by_ids(&self, ids: &[String]) -> Result<Vec<Entry>, DirError> {
        let u = &self.cfg.users;
        let binary = u.id_attribute.eq_ignore_ascii_case("objectGUID");
        let mut out = Vec::new();
        for batch in ids.chunks(BATCH) {
            let filter = filters::by_ids(&u.filter, &u.id_attribute, batch, binary);
            let found = self
                .with_service(|l| self.search(l, "refresh", &u.base_dn, &filter, self.user_attrs()))
                .await?;
            for e in &found {
                let Some(mut person) = self.person(e) else {
                    continue;
                };
                // The login the groups filter may name: the address, as a sign-in gives it.
                let login = person.email.clone().unwrap_or_default();
                let dn = person.dn.clone();
                person.groups = self
                    .with_service(|l| self.groups_of(l, &dn, &login))
                    .await?;
                out.push(person);
            }
        }
        Ok(out)
    }

    async fn check(&self) -> Result<(), DirError> {
        // A pooled connection may have died with the server: read the root DSE through it, so
        // the answer is the server's now, not the pool's.
        self.with_service(|mut l| async move {
            let started = Instant::now();
            let r = l
                .with_timeout(self.cfg.timeout)
                .search("", Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await
                .map_err(classify)
                .and_then(|found| found.success().map(|_| ()).map_err(classify));
            counted("check", started, &r);
            (l, r)
        })
        .await
    }
}
