//! The data path: sources, mapping, sinks, checkpoints. See ARCHITECTURE §3–§5.

pub mod batcher;
pub mod change;
pub mod checkpoint;
pub mod ddl;
pub mod event;
pub mod filter;
pub mod full_sync;
pub mod incremental;
pub mod key;
pub mod mysql_conn;
pub mod pipeline;
pub mod retry;
pub mod schema;
pub mod select;
pub mod sink;
pub mod source;
pub mod throttle;
