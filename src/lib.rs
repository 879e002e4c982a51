//! Ferry: continuous sync from MySQL-family databases into wide-table stores and MySQL.

pub mod api;
pub mod controller;
pub mod engine;
pub mod metrics;
pub mod precheck;
pub mod progress;
pub mod task;
pub mod task_file;
pub mod verify;
pub mod worker;
