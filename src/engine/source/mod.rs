//! Sources of change events. Each knows the engine's vocabulary (`event`, `schema`), never a sink.

pub mod mysql;
