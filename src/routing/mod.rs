//! Which route a request selects: the table with its index (`index`), and the check that every
//! reading a real app server makes of the path selects that same route (`readings`).

pub mod index;
pub mod readings;

pub use index::{bare_host, first_match, RouteIndex};
