//! The shapes of request and response bodies, for the OpenAPI document. The handlers read
//! bodies field by field (to answer each contract's own validation errors), so these types
//! describe the wire format; `openapi.rs` ties them to the routes the router really serves.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// Every error: `{statusCode, statusMessage, message, error}`, with `data` (field → message)
/// on validation errors.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Error {
    status_code: u16,
    status_message: String,
    message: String,
    error: String,
    data: Option<std::collections::BTreeMap<String, String>>,
}

/// A user as the APIs show it; never the password hash.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    id: i64,
    email: String,
    name: String,
    role: String,
    active: bool,
    created_at: String,
    updated_at: String,
    /// Its groups from every source (the admin's, identity providers'), sorted.
    groups: Vec<String>,
    /// An email change waiting for its confirmation link (Nuxt Users answers only).
    pending_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserEnvelope {
    user: User,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    page: u32,
    limit: u32,
    total: u64,
    total_pages: u64,
    has_next: bool,
    has_prev: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    users: Vec<User>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct Login {
    email: String,
    password: String,
    /// The long lifetime (`tokens.expiration_long`).
    remember: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CookieLogin {
    email: String,
    password: String,
    remember_me: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Credentials {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProfilePatch {
    name: Option<String>,
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewUser {
    email: String,
    name: String,
    password: String,
    role: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPatch {
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
    active: Option<bool>,
    /// Replaces the groups the admin gave the user (1-64 characters of `A-Za-z0-9._:@/-`
    /// each); groups from identity providers stay.
    groups: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MePatch {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
    new_password_confirmation: String,
}

#[derive(Serialize, ToSchema)]
pub struct Email {
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reset {
    token: String,
    email: String,
    password: String,
    password_confirmation: String,
}

#[derive(Serialize, ToSchema)]
pub struct Register {
    email: String,
    name: Option<String>,
    password: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MagicRequest {
    email: String,
    /// A same-origin path (or an allowlisted origin) to land on after signing in.
    return_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Code {
    code: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    token: String,
    expires_in: u64,
    access_token: String,
    token_type: String,
}

#[derive(Serialize, ToSchema)]
pub struct Session {
    id: String,
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    user: Option<User>,
    session: Option<serde_json::Value>,
}

/// A JWK set (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// A sign-in's second-step token, where a call may be made with one instead of a session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaTokenOpt {
    mfa_token: Option<String>,
}

/// A TOTP code (6 digits), with an enrolment `mfaToken` where a session is not at hand.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaCode {
    code: String,
    mfa_token: Option<String>,
}

/// One second factor: `code`, `recoveryCode` or a passkey `credential` (its `toJSON()`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaVerify {
    mfa_token: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
    credential: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyName {
    name: Option<String>,
    mfa_token: Option<String>,
}

/// A passkey sign-in's end: the flow and the credential's `toJSON()`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyLogin {
    flow_id: String,
    credential: serde_json::Value,
    /// `token` for `{token}` instead of a cookie session.
    mode: Option<String>,
}

/// Any JSON object.
#[derive(Serialize, ToSchema)]
pub struct AnyObject {}

/// A new API key: `expiresIn` like `"90d"`; `owner` (admins) for a service account's key.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKey {
    name: String,
    scopes: Option<Vec<String>>,
    expires_in: Option<String>,
    owner: Option<i64>,
}
