//! Signing in with a password, shared by every surface (both JSON contracts, the sign-in
//! page): the per-client and per-address limits, the account backoff, and a check that costs
//! the same for unknown accounts.

use super::directory::Found;
use super::mfa::{after_password, Challenge, Surface};
use crate::audit::{kinds, Event};
use crate::auth::policy::MAX_PASSWORD_CHARS;
use crate::auth::Amr;
use crate::error::Reject;
use crate::metrics;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::User;
use secrecy::SecretString;

#[derive(Debug)]
pub enum LoginFailure {
    BadCredentials,
    Deactivated,
    Failed(Reject),
}

/// Counts an attempt against the client's login limit; 429 beyond it.
pub fn rate_limit(state: &State, client: &ClientInfo) -> Result<(), Reject> {
    if let (Some(limiter), Some(ip)) = (&state.config().login_limiter, client.ip) {
        if let Err(retry_after_secs) = limiter.keys.check(ip) {
            metrics::login_attempt("rate_limited");
            metrics::rate_limited("login");
            return Err(Reject::RateLimited { retry_after_secs });
        }
    }
    Ok(())
}

/// Counts a mail asked for `email` (magic link, reset, sign-up); 429 beyond three at once and
/// one a minute. Keyed by the address whether or not it has an account, so the answer is the
/// same for both.
pub fn mail_rate_limit(state: &State, email: &str, limit: &'static str) -> Result<(), Reject> {
    state
        .mail_limiter
        .check(email.to_ascii_lowercase())
        .map_err(|retry_after_secs| {
            metrics::rate_limited(limit);
            Reject::RateLimited { retry_after_secs }
        })
}

/// A password check that could not run (no place in the hashing queue).
fn not_checked(e: crate::auth::password::HashError) -> LoginFailure {
    metrics::login_attempt("busy");
    LoginFailure::Failed(e.into())
}

/// Verifies email + password: the user, if they may sign in. Unknown users cost the same.
pub async fn check_password(
    state: &State,
    email: &str,
    password: String,
) -> Result<User, LoginFailure> {
    // No stored password can be this long (policy), so skip the hash and its cost.
    if password.chars().count() > MAX_PASSWORD_CHARS {
        metrics::login_attempt("bad_credentials");
        login_failed(state, email, None, "bad_password");
        return Err(LoginFailure::BadCredentials);
    }
    // The account's backoff, before any hashing: waiting attempts test no password.
    let key = email.to_ascii_lowercase();
    let now_ms = now_ms();
    // Counted as a failure from here on, before any hashing: parallel guesses cannot all
    // be checked before the first one fails.
    let attempt = state
        .backoff
        .reserve(&key, now_ms)
        .map_err(|retry_after_secs| {
            metrics::login_attempt("backoff");
            metrics::rate_limited("account");
            login_failed(state, email, None, "backoff");
            LoginFailure::Failed(Reject::RateLimited { retry_after_secs })
        })?;
    // A place in the hashing queue first: a login flood is refused before any database work.
    let _place = match state.passwords.admit() {
        Ok(p) => p,
        Err(e) => {
            attempt.cancelled();
            return Err(not_checked(e));
        }
    };
    let password = SecretString::from(password);
    let user = match state.store.user_by_email(email).await {
        Ok(u) => u,
        Err(e) => {
            attempt.cancelled();
            return Err(LoginFailure::Failed(e.into()));
        }
    };
    // The directory decides for its own users and for addresses no local account has.
    let directory = state.directory.clone();
    if let Some(dir) = directory.as_deref() {
        if user.as_ref().is_none_or(User::is_directory) {
            match super::directory::sign_in(state, dir, email, &password, None).await {
                Ok(Found::User(u)) => return signed_in(state, *u, attempt),
                // Nobody anywhere: checked below at the cost of an unknown local user.
                Ok(Found::NotHere) if user.is_none() => {}
                Err(reject) => {
                    metrics::login_attempt("directory_unavailable");
                    login_failed(state, email, user.as_ref(), "directory_unavailable");
                    attempt.cancelled();
                    return Err(LoginFailure::Failed(reject));
                }
                Ok(found) => {
                    // As slow as any wrong password (a hash is checked): how soon a refusal
                    // comes must not tell who the directory knows.
                    let _ = state.passwords.verify(&password, None).await;
                    let reason = match found {
                        Found::NotHere => "unknown_user",
                        _ => "bad_password",
                    };
                    return Err(refused(state, email, user.as_ref(), reason, attempt));
                }
            }
        }
    }
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = match state.passwords.verify(&password, hash).await {
        Ok(v) => v,
        Err(e) => {
            attempt.cancelled();
            return Err(not_checked(e));
        }
    };
    match user {
        Some(u) if verified && u.deleted_at.is_none() && u.email_verified => {
            signed_in(state, u, attempt)
        }
        // A local account whose password is not this one: the directory may have an entry
        // with its address (taken over only with `link_by_email`).
        Some(u) if !u.is_service() && u.deleted_at.is_none() => match directory.as_deref() {
            Some(dir) => {
                match super::directory::sign_in(state, dir, email, &password, Some(&u)).await {
                    Ok(Found::User(u)) => signed_in(state, *u, attempt),
                    Ok(_) => Err(refused(state, email, Some(&u), "bad_password", attempt)),
                    // Without link_by_email the directory could not have let them in: the local
                    // password was wrong, and that is the answer, outage or not.
                    Err(_)
                        if !state
                            .config()
                            .directory
                            .as_ref()
                            .is_some_and(|d| d.link_by_email) =>
                    {
                        Err(refused(state, email, Some(&u), "bad_password", attempt))
                    }
                    Err(reject) => {
                        metrics::login_attempt("directory_unavailable");
                        login_failed(state, email, Some(&u), "directory_unavailable");
                        attempt.cancelled();
                        Err(LoginFailure::Failed(reject))
                    }
                }
            }
            None => Err(refused(state, email, Some(&u), "bad_password", attempt)),
        },
        Some(u) => Err(refused(state, email, Some(&u), "bad_password", attempt)),
        None => Err(refused(state, email, None, "unknown_user", attempt)),
    }
}

/// A right password (or a directory's bind): the user, unless deactivated.
fn signed_in(
    state: &State,
    u: User,
    attempt: crate::auth::backoff::Reservation<'_>,
) -> Result<User, LoginFailure> {
    attempt.succeeded();
    if u.active {
        metrics::login_attempt("success");
        Ok(u)
    } else {
        metrics::login_attempt("inactive");
        login_failed(state, &u.email, Some(&u), "inactive");
        Err(LoginFailure::Deactivated)
    }
}

/// A wrong password, or an unknown account (`reason`): counted against the address's
/// backoff, and recorded.
fn refused(
    state: &State,
    email: &str,
    user: Option<&User>,
    reason: &str,
    attempt: crate::auth::backoff::Reservation<'_>,
) -> LoginFailure {
    metrics::login_attempt("bad_credentials");
    login_failed(state, email, user, reason);
    if attempt.failed(crate::clock::now_ms()) {
        backoff_applied(state, email, user);
    }
    LoginFailure::BadCredentials
}

/// `authn.login.failed` by whoever typed `email`, on the request path's queue.
fn login_failed(state: &State, email: &str, user: Option<&User>, reason: &str) {
    let mut e = Event::new(kinds::LOGIN_FAILED)
        .by_anonymous(Some(email))
        .failed(reason);
    if let Some(u) = user {
        e = e.target_user(u.id);
    }
    state.audit.record(e);
}

/// `authn.backoff.applied`: from now on each attempt for `email` waits.
fn backoff_applied(state: &State, email: &str, user: Option<&User>) {
    let mut e = Event::new(kinds::BACKOFF_APPLIED)
        .by_anonymous(Some(email))
        .reason(format!(
            "{} failed passwords",
            state.config().rate_limits.account.free_failures
        ));
    if let Some(u) = user {
        e = e.target_user(u.id);
    }
    state.audit.record(e);
}

/// Checks a signed-in user's current password (before a credential change), counted against
/// the account's backoff like a sign-in, so a stolen session cannot be used to guess it.
pub async fn check_current_password(
    state: &State,
    user: &User,
    password: String,
) -> Result<bool, Reject> {
    // Its only use is a password change, which the directory owns for its users: say so
    // before asking, rather than "incorrect" for the password the directory accepts.
    if user.is_directory() {
        return Err(super::directory::managed());
    }
    let attempt = state
        .backoff
        .reserve(&user.email.to_ascii_lowercase(), now_ms())
        .map_err(|retry_after_secs| {
            metrics::rate_limited("account");
            Reject::RateLimited { retry_after_secs }
        })?;
    let verified = state
        .passwords
        .verify(&SecretString::from(password), user.password_hash.as_deref())
        .await;
    match verified {
        Ok(true) => {
            attempt.succeeded();
            Ok(true)
        }
        Ok(false) => {
            login_failed(state, &user.email, Some(user), "bad_current_password");
            if attempt.failed(now_ms()) {
                backoff_applied(state, &user.email, Some(user));
            }
            Ok(false)
        }
        Err(e) => {
            attempt.cancelled();
            Err(e.into())
        }
    }
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// What a right password leads to.
pub enum Step {
    /// Signed in: the user and the session's token.
    Session(Box<User>, String),
    /// The user has (or must enrol) a second factor: no session yet.
    Second(Challenge),
}

/// Verifies email + password and starts a session, unless the user's second factor is asked
/// for first (`surface` says which endpoint the second step then answers as).
pub async fn password_login(
    state: &State,
    client: &ClientInfo,
    email: &str,
    password: String,
    remember: bool,
    surface: Surface,
    return_to: Option<String>,
) -> Result<Step, LoginFailure> {
    let user = check_password(state, email, password).await?;
    if let Some(c) = after_password(state, &user, surface, remember, return_to)
        .await
        .map_err(LoginFailure::Failed)?
    {
        return Ok(Step::Second(c));
    }
    let token = state
        .start_session(&user, remember, client, Amr::PWD)
        .await
        .map_err(LoginFailure::Failed)?;
    Ok(Step::Session(Box::new(user), token))
}
