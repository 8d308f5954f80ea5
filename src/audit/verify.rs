//! Checking the chain (`portcullis audit verify`): rows read in `seq` order, each hashed again
//! and compared, each linked to the one before; the first that does not hold is named. A
//! chain that does not start at the genesis must start where the latest retention purge said
//! it would, and it must end at the head.

use crate::store::{AuditRow, AuditStore, StoreError};

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The row's content is not what was hashed (edited behind the gateway's back).
    Altered { seq: i64, id: String },
    /// Rows are missing before this one (its `prev_hash` or `seq` does not follow).
    Missing { seq: i64, id: String },
    /// The first row is not the genesis, and no retention purge vouches for where it starts.
    Unanchored { seq: i64, id: String },
    /// The head says the chain goes further than its last row.
    Truncated { last_seq: i64, head_seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Altered { seq, id } => write!(
                f,
                "event seq {seq} (id {id}) was altered: its hash does not match its content"
            ),
            Break::Missing { seq, id } => write!(
                f,
                "events are missing before seq {seq} (id {id}): it does not follow the event before it"
            ),
            Break::Unanchored { seq, id } => write!(
                f,
                "the chain starts at seq {seq} (id {id}), and no retention purge says it may"
            ),
            Break::Truncated { last_seq, head_seq } => write!(
                f,
                "events after seq {last_seq} are missing: the chain's head is at seq {head_seq}"
            ),
        }
    }
}

/// A whole chain checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub head_hash: String,
}

/// Checks rows fed in `seq` order.
#[derive(Debug, Default)]
pub struct Chain {
    first: Option<(i64, String, String)>,
    last: Option<(i64, String)>,
    events: u64,
    /// The newest retention purge's word on where the chain starts: (seq, prev_hash).
    anchor: Option<(i64, String)>,
}

impl Chain {
    pub fn feed(&mut self, row: &AuditRow) -> Result<(), Break> {
        if row.computed_hash() != row.hash {
            return Err(Break::Altered {
                seq: row.seq,
                id: row.id.clone(),
            });
        }
        match &self.last {
            Some((seq, hash)) if row.seq != seq + 1 || row.prev_hash != *hash => {
                return Err(Break::Missing {
                    seq: row.seq,
                    id: row.id.clone(),
                })
            }
            Some(_) => {}
            None => self.first = Some((row.seq, row.prev_hash.clone(), row.id.clone())),
        }
        if row.kind == super::kinds::RETENTION_PURGED {
            self.anchor = purge_anchor(row);
        }
        self.last = Some((row.seq, row.hash.clone()));
        self.events += 1;
        Ok(())
    }

    /// After the last row: the start is the genesis or vouched for, the end is the head.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<Verified, Break> {
        if let Some((seq, prev, id)) = &self.first {
            let genesis = *seq == 1 && prev == crate::store::audit::GENESIS;
            let vouched = self.anchor.as_ref() == Some(&(*seq, prev.clone()));
            if !genesis && !vouched {
                return Err(Break::Unanchored {
                    seq: *seq,
                    id: id.clone(),
                });
            }
        }
        let (last_seq, last_hash) = self.last.clone().unwrap_or((0, head_hash.to_string()));
        if last_seq != head_seq || last_hash != head_hash {
            return Err(Break::Truncated { last_seq, head_seq });
        }
        Ok(Verified {
            events: self.events,
            first_seq: self.first.map_or(0, |f| f.0),
            last_seq,
            head_hash: last_hash,
        })
    }
}

/// Where a purge record says the chain now starts.
fn purge_anchor(row: &AuditRow) -> Option<(i64, String)> {
    let changes: serde_json::Value = serde_json::from_str(row.changes.as_deref()?).ok()?;
    let seq = changes["first_seq"]["to"].as_i64()?;
    let prev = changes["first_prev_hash"]["to"].as_str()?.to_string();
    Some((seq, prev))
}

/// Why a verification could not finish.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Broken(Break),
    #[error("reading the audit trail: {0}")]
    Store(#[from] StoreError),
}

/// Reads the whole chain from the store, a page at a time.
pub async fn verify(store: &dyn AuditStore) -> Result<Verified, VerifyError> {
    // The head first: events appended while we read are beyond it, and not checked now.
    let (head_seq, head_hash) = store.audit_head().await?;
    let mut chain = Chain::default();
    let mut after = 0;
    loop {
        let rows = store.audit_rows_after(after, 1_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for r in rows.iter().filter(|r| r.seq <= head_seq) {
            chain.feed(r).map_err(VerifyError::Broken)?;
        }
        if after >= head_seq {
            break;
        }
    }
    chain
        .finish(head_seq, &head_hash)
        .map_err(VerifyError::Broken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::GENESIS;
    use crate::store::NewEvent;

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = NewEvent {
                    id: format!("e{seq}"),
                    ts: seq,
                    kind: "user.updated".into(),
                    outcome: "success".into(),
                    actor_type: "system".into(),
                    instance: "i".into(),
                    ..Default::default()
                };
                let row = AuditRow::chained(&e, seq, &prev);
                prev = row.hash.clone();
                row
            })
            .collect()
    }

    fn check(rows: &[AuditRow], head: (i64, &str)) -> Result<Verified, Break> {
        let mut c = Chain::default();
        for r in rows {
            c.feed(r)?;
        }
        c.finish(head.0, head.1)
    }

    #[test]
    fn a_whole_chain_holds_and_every_tampering_is_named() {
        let rows = chain(5);
        let head = (5, rows[4].hash.as_str());
        let v = check(&rows, head).unwrap();
        assert_eq!((v.events, v.first_seq, v.last_seq), (5, 1, 5));
        // Edited.
        let mut edited = rows.clone();
        edited[2].actor_email = Some("someone@else".into());
        assert_eq!(
            check(&edited, head),
            Err(Break::Altered {
                seq: 3,
                id: "e3".into()
            })
        );
        // Edited and hashed again: the next row no longer follows.
        edited[2].hash = edited[2].computed_hash();
        assert_eq!(
            check(&edited, head),
            Err(Break::Missing {
                seq: 4,
                id: "e4".into()
            })
        );
        // Deleted in the middle, at the start, at the end.
        let mut gap = rows.clone();
        gap.remove(1);
        assert_eq!(
            check(&gap, head),
            Err(Break::Missing {
                seq: 3,
                id: "e3".into()
            })
        );
        assert_eq!(
            check(&rows[1..], head),
            Err(Break::Unanchored {
                seq: 2,
                id: "e2".into()
            })
        );
        assert_eq!(
            check(&rows[..4], head),
            Err(Break::Truncated {
                last_seq: 4,
                head_seq: 5
            })
        );
        // Empty, as made.
        assert!(check(&[], (0, GENESIS)).is_ok());
    }

    #[test]
    fn a_purge_record_vouches_for_the_new_start() {
        let mut rows = chain(4);
        let purge = NewEvent {
            id: "p".into(),
            ts: 9,
            kind: super::super::kinds::RETENTION_PURGED.into(),
            outcome: "success".into(),
            actor_type: "system".into(),
            instance: "i".into(),
            changes: Some(
                serde_json::json!({"first_seq": {"from": 1, "to": 3}, "first_prev_hash": {"from": GENESIS, "to": rows[1].hash}})
                    .to_string(),
            ),
            ..Default::default()
        };
        let p = AuditRow::chained(&purge, 5, &rows[3].hash);
        rows.push(p.clone());
        assert!(check(&rows[2..], (5, &p.hash)).is_ok());
        // Deleting one more from the start is not what the purge said.
        assert_eq!(
            check(&rows[3..], (5, &p.hash)),
            Err(Break::Unanchored {
                seq: 4,
                id: "e4".into()
            })
        );
    }
}
