//! Second factors over the store: TOTP enrolment and codes, recovery codes, the second step
//! of a password sign-in (the `mfaToken`), and an admin's reset. Wrong codes count against a
//! per-user backoff (`mfa:<id>`) of the same policy as passwords; neither a new `mfaToken`
//! nor a right password clears it.

use crate::audit::{kinds, Event};
use crate::auth::one_time;
use crate::auth::Amr;
use crate::error::Reject;
use crate::metrics;
use crate::mfa::{recovery, totp};
use crate::state::State;
use crate::store::{now, PasskeyRow, User};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a second step may take.
pub const TOKEN_TTL: i64 = 300;
const PURPOSE: &str = "mfa";

/// Which sign-in endpoint the second step finishes, so it answers as that one would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// `POST /api/login`: the token as a JSON string.
    Pruvious,
    /// `POST /api/nuxt-users/session`: `{user}` and the cookie.
    Nuxt,
    /// `POST /api/auth/login`: `{user, session}` and the cookie.
    Altogic,
    /// The sign-in page: a redirect with the cookie.
    Page,
}

/// A password sign-in waiting for its second step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub surface: Surface,
    pub remember: bool,
    /// The first factor's methods (`pwd`).
    pub first: String,
    /// The user must enrol a factor first (`mfa.required_for_roles`).
    pub enroll: bool,
    /// For the page: where to go afterwards.
    #[serde(default)]
    pub return_to: Option<String>,
}

/// What a user has set up.
pub struct Status {
    pub totp: bool,
    pub passkeys: Vec<PasskeyRow>,
    pub recovery_left: i64,
}

impl Status {
    pub fn any(&self) -> bool {
        self.totp || !self.passkeys.is_empty()
    }

    /// What a second step may use (`webauthn` only while passkeys are switched on).
    pub fn methods(&self, webauthn_on: bool) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.totp {
            m.push("totp");
        }
        if !self.passkeys.is_empty() && webauthn_on {
            m.push("webauthn");
        }
        if self.recovery_left > 0 {
            m.push("recovery");
        }
        m
    }
}

pub async fn status(state: &State, user_id: i64) -> Result<Status, Reject> {
    let totp = state.store.totp(user_id).await?.is_some_and(|t| t.enabled);
    Ok(Status {
        totp,
        passkeys: state.store.passkeys(user_id).await?,
        recovery_left: state.store.recovery_codes_left(user_id).await?,
    })
}

/// The answer a password step gives instead of a session.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub token: String,
    pub methods: Vec<&'static str>,
    pub enroll: bool,
}

impl Challenge {
    pub fn json(&self) -> Value {
        let mut v = json!({
            "mfaRequired": true,
            "mfaToken": self.token,
            "methods": self.methods,
        });
        if self.enroll {
            v["enrollRequired"] = json!(true);
        }
        v
    }
}

/// After a right password: `None` when the user may sign in now, else the second step.
pub async fn after_password(
    state: &State,
    user: &User,
    surface: Surface,
    remember: bool,
    return_to: Option<String>,
) -> Result<Option<Challenge>, Reject> {
    after_first_factor(state, user, surface, remember, return_to, Amr::PWD).await
}

/// After a first factor (`first`: a password, a magic link): `None` when the user may sign
/// in now, else the second step.
pub async fn after_first_factor(
    state: &State,
    user: &User,
    surface: Surface,
    remember: bool,
    return_to: Option<String>,
    first: Amr,
) -> Result<Option<Challenge>, Reject> {
    let cfg = state.config();
    let st = status(state, user.id).await?;
    let enroll = !st.any() && cfg.mfa.required_for_roles.contains(&user.role);
    if !st.any() && !enroll {
        return Ok(None);
    }
    let methods = st.methods(cfg.mfa.webauthn.is_some());
    let pending = Pending {
        surface,
        remember,
        first: first.to_string(),
        enroll,
        return_to,
    };
    let (token, hash) = one_time::generate();
    state
        .store
        .put_flow(
            &hash,
            PURPOSE,
            Some(user.id),
            &serde_json::to_string(&pending).map_err(|_| Reject::Internal)?,
            now() + TOKEN_TTL,
        )
        .await?;
    metrics::login_attempt(if enroll { "mfa_enroll" } else { "mfa_required" });
    Ok(Some(Challenge {
        token,
        methods,
        enroll,
    }))
}

fn bad_token() -> Reject {
    Reject::Unauthenticated {
        invalid_token: true,
        message: "The mfaToken is invalid or expired; sign in again",
    }
}

/// The pending sign-in `token` names (left in place) and its user, who must still be allowed
/// to sign in.
pub async fn pending(state: &State, token: &str) -> Result<(Pending, User), Reject> {
    let row = state
        .store
        .flow(&one_time::hash(token), PURPOSE, now())
        .await?
        .ok_or_else(bad_token)?;
    let pending: Pending = serde_json::from_str(&row.data).map_err(|_| bad_token())?;
    let user = match row.user_id {
        Some(id) => state.store.user_by_id(id).await?,
        None => None,
    };
    match user {
        Some(u) if u.active && u.deleted_at.is_none() => Ok((pending, u)),
        _ => Err(bad_token()),
    }
}

/// Ends the pending sign-in: of two concurrent second steps, one gets the session.
pub async fn complete(state: &State, token: &str) -> Result<(), Reject> {
    state
        .store
        .take_flow(&one_time::hash(token), PURPOSE, now())
        .await?
        .map(|_| ())
        .ok_or_else(bad_token)
}

fn wrong_code() -> Reject {
    Reject::Unauthenticated {
        invalid_token: false,
        message: "The code is wrong or was used already",
    }
}

/// Runs `check` as one attempt against the user's second-factor backoff: `Ok(true)` clears
/// it, `Ok(false)` counts a failure, an error gives the attempt back.
async fn counted<F>(state: &State, user: &User, check: F) -> Result<(), Reject>
where
    F: std::future::Future<Output = Result<bool, Reject>>,
{
    let key = format!("mfa:{}", user.id);
    let attempt = state
        .backoff
        .reserve(&key, crate::clock::now_ms())
        .map_err(|retry_after_secs| {
            metrics::rate_limited("mfa");
            state.audit.record(
                Event::new(kinds::MFA_FAILED)
                    .target_user(user.id)
                    .failed("backoff"),
            );
            Reject::RateLimited { retry_after_secs }
        })?;
    match check.await {
        Ok(true) => {
            attempt.succeeded();
            metrics::login_attempt("mfa_success");
            Ok(())
        }
        Ok(false) => {
            attempt.failed(crate::clock::now_ms());
            metrics::login_attempt("mfa_bad_code");
            state.audit.record(
                Event::new(kinds::MFA_FAILED)
                    .target_user(user.id)
                    .failed("bad_code"),
            );
            Err(wrong_code())
        }
        Err(e) => {
            attempt.cancelled();
            Err(e)
        }
    }
}

fn malformed_code() -> Reject {
    Reject::BadRequest("code must be the 6 digits your authenticator app shows".into())
}

/// The user's enabled TOTP secret.
async fn secret(state: &State, user: &User, enabled: bool) -> Result<(Vec<u8>, i64), Reject> {
    let row = state.store.totp(user.id).await?;
    let row = match row {
        Some(r) if r.enabled == enabled => r,
        _ if enabled => return Err(Reject::BadRequest("No authenticator app is set up".into())),
        _ => {
            return Err(Reject::BadRequest(
                "Start with totp/setup (or TOTP is enabled already)".into(),
            ))
        }
    };
    let plain = state.sealer.open(user.id, &row.secret).ok_or_else(|| {
        tracing::error!(
            user = user.id,
            "a TOTP secret does not open with the configured key"
        );
        Reject::Internal
    })?;
    Ok((plain, row.last_step))
}

/// Checks a TOTP code of the user's enabled secret, once per time step.
pub async fn check_totp(state: &State, user: &User, code: &str) -> Result<(), Reject> {
    totp::normalize(code).map_err(|_| malformed_code())?;
    counted(state, user, async {
        let (secret, _) = secret(state, user, true).await?;
        match totp::check(&secret, code, now()) {
            Ok(Some(step)) => Ok(state.store.use_totp_step(user.id, step).await?),
            _ => Ok(false),
        }
    })
    .await
}

/// Uses one recovery code; the user is told by mail.
pub async fn check_recovery(state: &State, user: &User, code: &str) -> Result<(), Reject> {
    let hash = recovery::hash(user.id, code).ok_or_else(|| {
        Reject::BadRequest("recoveryCode must be one of your recovery codes".into())
    })?;
    let event = Event::new(kinds::RECOVERY_CODE_USED)
        .target_user(user.id)
        .build();
    counted(state, user, async {
        Ok(state
            .store
            .use_recovery_code(user.id, &hash, now(), &[event])
            .await?)
    })
    .await?;
    let cfg = state.config();
    let link = format!(
        "{}{}",
        cfg.server.public_url.trim_end_matches('/'),
        cfg.api.account_page.as_deref().unwrap_or("/")
    );
    state.mailer.send(
        crate::mail::Kind::RecoveryCodeUsed,
        &user.email,
        &user.name,
        &link,
        std::time::Duration::ZERO,
    );
    Ok(())
}

/// A new TOTP secret for the user, waiting for its first code.
pub struct Setup {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

pub async fn setup_totp(state: &State, user: &User) -> Result<Setup, Reject> {
    let cfg = state.config();
    if !cfg.mfa.totp {
        return Err(Reject::NotFound);
    }
    let secret = totp::new_secret();
    let sealed = state.sealer.seal(user.id, &secret);
    if !state
        .store
        .put_pending_totp(user.id, &sealed, now())
        .await?
    {
        return Err(Reject::Conflict(
            "An authenticator app is enabled already; disable it first".into(),
        ));
    }
    let url = totp::otpauth_url(&secret, &cfg.mfa.issuer, &user.email);
    Ok(Setup {
        secret: totp::base32(&secret),
        qr_svg: totp::qr_svg(&url),
        otpauth_url: url,
    })
}

/// The secret waiting for its first code, shown again (after a wrong first code).
pub async fn pending_setup(state: &State, user: &User) -> Result<Setup, Reject> {
    let (secret, _) = secret(state, user, false).await?;
    let url = totp::otpauth_url(&secret, &state.config().mfa.issuer, &user.email);
    Ok(Setup {
        secret: totp::base32(&secret),
        qr_svg: totp::qr_svg(&url),
        otpauth_url: url,
    })
}

/// Confirms the pending secret with a first code; the new recovery codes, shown once.
pub async fn enable_totp(state: &State, user: &User, code: &str) -> Result<Vec<String>, Reject> {
    totp::normalize(code).map_err(|_| malformed_code())?;
    let (secret, _) = secret(state, user, false).await?;
    let (codes, hashes) = recovery::generate(user.id);
    let events = [
        Event::new(kinds::TOTP_ENROLLED)
            .target_user(user.id)
            .build(),
        Event::new(kinds::RECOVERY_CODES_GENERATED)
            .target_user(user.id)
            .build(),
    ];
    counted(state, user, async {
        match totp::check(&secret, code, now()) {
            Ok(Some(step)) => Ok(state
                .store
                .enable_totp(user.id, step, &hashes, &events)
                .await?),
            _ => Ok(false),
        }
    })
    .await?;
    Ok(codes)
}

/// Turns TOTP off (proved by a current code); recovery codes go too unless a passkey is left.
pub async fn disable_totp(state: &State, user: &User, code: &str) -> Result<(), Reject> {
    check_totp(state, user, code).await?;
    let removed = Event::new(kinds::TOTP_REMOVED).target_user(user.id).build();
    state.store.delete_totp(user.id, &[removed]).await?;
    if state.store.passkeys(user.id).await?.is_empty() {
        state
            .store
            .replace_recovery_codes(user.id, &[], &[])
            .await?;
    }
    Ok(())
}

/// A new set of recovery codes; the old set dies.
pub async fn new_recovery_codes(state: &State, user: &User) -> Result<Vec<String>, Reject> {
    let (codes, hashes) = recovery::generate(user.id);
    let event = Event::new(kinds::RECOVERY_CODES_GENERATED)
        .target_user(user.id)
        .build();
    state
        .store
        .replace_recovery_codes(user.id, &hashes, &[event])
        .await?;
    Ok(codes)
}

/// Removes every factor of a user and ends their sessions (an admin's reset).
pub async fn reset(state: &State, user_id: i64) -> Result<usize, Reject> {
    state
        .store
        .reset_mfa(user_id, Some(&factors_removed(user_id, None)))
        .await?;
    let ended = state.end_user_sessions(user_id, None, "mfa_reset").await?;
    Ok(ended)
}

/// The events of removing every factor of `user_id` (`by`: the system that did, else the
/// request's caller): TOTP and each passkey removed.
pub fn factors_removed(
    user_id: i64,
    by: Option<&'static str>,
) -> impl Fn(bool, &[String]) -> Vec<crate::store::NewEvent> + Send + Sync {
    move |totp, passkeys| {
        let base = |kind| {
            let e = Event::new(kind).target_user(user_id).reason("reset");
            match by {
                Some(b) => e.by_system(b),
                None => e,
            }
        };
        let mut out = Vec::new();
        if totp {
            out.push(base(kinds::TOTP_REMOVED).build());
        }
        for p in passkeys {
            out.push(
                base(kinds::PASSKEY_REMOVED)
                    .change("passkey", Some(p), None::<&str>)
                    .build(),
            );
        }
        out
    }
}
