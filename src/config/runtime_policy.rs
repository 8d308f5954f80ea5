//! Route policies as the decision reads them: every name resolved, every address parsed, every
//! zone loaded, so evaluating one is comparisons only (`decision::policy`).

use http::Method;
use ipnet::IpNet;

/// A route's `allow` and `deny` blocks.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Alternatives: one that holds lets the request through. Empty: no allow list (the
    /// route's `auth` alone says who may come).
    pub allow: Vec<Block>,
    /// One that holds refuses the request, whatever `allow` says.
    pub deny: Vec<Block>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Every block, allow first, as `(is_deny, block)`.
    pub fn blocks(&self) -> impl Iterator<Item = (bool, &Block)> {
        self.allow
            .iter()
            .map(|b| (false, b))
            .chain(self.deny.iter().map(|b| (true, b)))
    }
}

/// Criteria that must all hold.
#[derive(Debug, Clone)]
pub struct Block {
    /// Its `name:`, else `allow[i]` / `deny[i]`.
    pub label: String,
    pub all: Vec<Criterion>,
}

impl Block {
    /// Whether any criterion needs to know who is asking.
    pub fn about_identity(&self) -> bool {
        self.all.iter().any(Criterion::about_identity)
    }
}

/// One criterion; a list means any of its items.
#[derive(Debug, Clone)]
pub enum Criterion {
    /// Proven addresses, lower-cased.
    Users(Vec<String>),
    /// Domains of proven addresses, lower-cased; `*.example.com` matches its subdomains.
    EmailDomains(Vec<String>),
    Roles(Vec<String>),
    /// Sorted.
    Groups(Vec<String>),
    /// The claim at `pointer` equals one of `any_of` (or, a list, holds one of them).
    Claim {
        /// As written (RFC 6901), for `explain`.
        pointer: String,
        /// Its reference tokens, unescaped; the first is the top-level claim.
        path: Vec<String>,
        any_of: Vec<serde_json::Value>,
    },
    /// An API key holding one of these.
    Scopes(Vec<String>),
    /// The sign-in used a second factor.
    Mfa,
    /// The sign-in used one of these methods.
    Amr(Vec<AmrName>),
    Networks(Vec<IpNet>),
    Methods(Vec<Method>),
    Time(Window),
    /// Holds when the block inside does not.
    Not(Vec<Criterion>),
}

impl Criterion {
    /// Whether it needs to know who is asking (else it reads the request alone).
    pub fn about_identity(&self) -> bool {
        match self {
            Criterion::Networks(_) | Criterion::Methods(_) | Criterion::Time(_) => false,
            Criterion::Not(inner) => inner.iter().any(Criterion::about_identity),
            _ => true,
        }
    }

    /// Whether it reads how the caller signed in (`mfa`, `amr`), here or inside a `not`: only
    /// then can a second step change whether a block holds.
    pub fn about_sign_in_methods(&self) -> bool {
        match self {
            Criterion::Mfa | Criterion::Amr(_) => true,
            Criterion::Not(inner) => inner.iter().any(Criterion::about_sign_in_methods),
            _ => false,
        }
    }

    /// The key it was written under.
    pub fn key(&self) -> &'static str {
        match self {
            Criterion::Users(_) => "users",
            Criterion::EmailDomains(_) => "email_domains",
            Criterion::Roles(_) => "roles",
            Criterion::Groups(_) => "groups",
            Criterion::Claim { .. } => "claims",
            Criterion::Scopes(_) => "scopes",
            Criterion::Mfa => "mfa",
            Criterion::Amr(_) => "amr",
            Criterion::Networks(_) => "networks",
            Criterion::Methods(_) => "methods",
            Criterion::Time(_) => "time",
            Criterion::Not(_) => "not",
        }
    }
}

/// The sign-in methods a policy can ask for (RFC 8176 names the gateway produces), and `mfa`
/// (RFC 8176 "multiple-factor authentication": any second factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmrName {
    Pwd,
    Otp,
    Hwk,
    Email,
    Fed,
    Mfa,
}

impl AmrName {
    pub const ALL: [(&'static str, AmrName); 6] = [
        ("pwd", AmrName::Pwd),
        ("otp", AmrName::Otp),
        ("hwk", AmrName::Hwk),
        ("email", AmrName::Email),
        ("fed", AmrName::Fed),
        ("mfa", AmrName::Mfa),
    ];
}

/// Days and times of day in a zone.
#[derive(Debug, Clone)]
pub struct Window {
    /// Bit 0 Monday … bit 6 Sunday.
    pub days: u8,
    /// Minutes after midnight: from inclusive, to exclusive (1440: midnight at the end).
    pub from: u16,
    pub to: u16,
    pub tz: jiff::tz::TimeZone,
}

impl Window {
    /// Whether the window holds at Unix second `at`. A window whose `to` is before its `from`
    /// runs past midnight and belongs to the day it starts on (`fri 22:00-06:00` holds early
    /// on Saturday, not early on Friday).
    pub fn holds(&self, at: i64) -> bool {
        let Ok(ts) = jiff::Timestamp::from_second(at) else {
            return false;
        };
        let local = self.tz.to_datetime(ts);
        let day = local.weekday().to_monday_zero_offset() as u8;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let on = |d: u8| self.days & (1 << d) != 0;
        if self.from <= self.to {
            on(day) && (self.from..self.to).contains(&minute)
        } else {
            (on(day) && minute >= self.from) || (on((day + 6) % 7) && minute < self.to)
        }
    }
}
