//! Request paths, knowing nothing of routes or HTTP frameworks: the request target as the
//! gateway reads, checks and forwards it (`target`), and the patterns routes are written in
//! (`pattern`).

pub mod pattern;
pub mod target;
