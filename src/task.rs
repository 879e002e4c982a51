//! Validation: a `SyncTaskSpec` (the resource, `api`) → a [`ValidatedTask`] (what the engine
//! runs), a value that proves the spec was checked: selection and names resolved
//! (`engine::select`), names a Lindorm destination cannot hold refused. Pure: no I/O, every
//! problem reported at once with the field path and the fix.

use std::{fmt, time::Duration};

use crate::{
    api::{DestinationKind, SyncTaskSpec, parse_duration},
    engine::{select::Selection, sink::lindorm::dialect as lindorm_dialect},
};

/// A spec that passed validation, with its derived settings.
#[derive(Clone, Debug)]
pub struct ValidatedTask {
    /// `namespace/name` (local mode: `local/<name>`).
    pub key: String,
    /// The spec as validated.
    pub spec: SyncTaskSpec,
    /// Retry window for connection failures.
    pub connection_window: Duration,
    /// Retry window for other failures.
    pub other_window: Duration,
    /// Rows per snapshot chunk and per destination batch.
    pub batch_rows: usize,
    /// Parallel apply lanes.
    pub apply_lanes: usize,
    /// Parallel snapshot readers.
    pub snapshot_readers: usize,
    /// Replica server id used for the binlog connection.
    pub server_id: u32,
    /// Selection, name mapping, filters and operations, resolved.
    pub selection: Selection,
    /// Heartbeat: (interval, source database), when enabled.
    pub heartbeat: Option<(Duration, String)>,
}

/// Every problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError(pub Vec<String>);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid SyncTask: {}", self.0.join("; "))
    }
}

impl std::error::Error for ValidationError {}

/// Checks `spec` for the task `namespace/name`.
pub fn validate(namespace: &str, name: &str, spec: &SyncTaskSpec) -> Result<ValidatedTask, ValidationError> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg);
        }
    };
    // Kubernetes' own rules for the names (a DNS-1123 subdomain and label), and the task key
    // `namespace/name` must fit the checkpoint's `task` column (255 characters).
    need(
        is_dns_subdomain(name) && name.len() <= MAX_NAME,
        format!(
            "metadata.name `{}` must be 1 to {MAX_NAME} characters of a-z, 0-9, `-` and `.`, starting and ending with a letter or digit \
             (a Kubernetes name; with its namespace it names the task's checkpoint row)",
            name.chars().take(80).collect::<String>()
        ),
    );
    need(
        is_dns_label(namespace),
        format!(
            "metadata.namespace `{}` must be 1 to 63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit",
            namespace.chars().take(80).collect::<String>()
        ),
    );
    need(
        !spec.source.host.is_empty(),
        "spec.source.host is empty: set the source's host name".into(),
    );
    need(
        !spec.source.credentials_secret.name.is_empty(),
        "spec.source.credentialsSecret.name is empty: name the Secret with `username` and `password`".into(),
    );
    need(
        !spec.destination.host.is_empty(),
        "spec.destination.host is empty: set the destination's host name".into(),
    );
    need(
        !spec.destination.credentials_secret.name.is_empty(),
        "spec.destination.credentialsSecret.name is empty: name the Secret with `username` and `password`".into(),
    );
    need(
        spec.destination.kind != DestinationKind::Cassandra,
        "spec.destination.type cassandra is not available in this version of Ferry: use `mysql` or `lindorm`".into(),
    );
    if spec.destination.kind == DestinationKind::Lindorm {
        need(
            lindorm_dialect::is_namespace(&spec.destination.checkpoint_database),
            format!(
                "spec.destination.checkpointDatabase `{}` is not a valid Lindorm namespace: {}",
                spec.destination.checkpoint_database,
                lindorm_dialect::NAMESPACE_RULE
            ),
        );
        for (i, object) in spec.objects.iter().enumerate() {
            let target = object.target_name.as_deref().unwrap_or(&object.database);
            need(
                lindorm_dialect::is_namespace(target),
                format!(
                    "spec.objects[{i}]: destination namespace `{target}` is not a valid Lindorm namespace: {}; \
                     set targetName",
                    lindorm_dialect::NAMESPACE_RULE
                ),
            );
        }
    }
    need(
        !spec.destination.checkpoint_database.is_empty(),
        "spec.destination.checkpointDatabase is empty".into(),
    );
    need(
        spec.sync_types.full || spec.sync_types.incremental,
        "spec.syncTypes: enable full, incremental or both".into(),
    );
    need(!spec.objects.is_empty(), "spec.objects is empty: list at least one database".into());
    let mut seen = std::collections::BTreeSet::new();
    for (i, object) in spec.objects.iter().enumerate() {
        let at = format!("spec.objects[{i}]");
        need(!object.database.is_empty(), format!("{at}.database is empty"));
        need(
            seen.insert(&object.database),
            format!("{at}.database `{}` is listed twice", object.database),
        );
        need(
            object.operations.as_ref().is_none_or(|o| !o.is_empty()),
            format!("{at}.operations is empty: list at least one operation, or omit it for all"),
        );
        let mut tables_seen = std::collections::BTreeSet::new();
        for (j, table) in object.tables.iter().flatten().enumerate() {
            let at = format!("{at}.tables[{j}]");
            need(!table.name.is_empty(), format!("{at}.name is empty"));
            need(
                tables_seen.insert(&table.name),
                format!("{at}.name `{}` is listed twice", table.name),
            );
            need(
                table.operations.as_ref().is_none_or(|o| !o.is_empty()),
                format!("{at}.operations is empty: list at least one operation, or omit it to inherit the database's"),
            );
            need(
                table.columns.as_ref().is_none_or(|c| !c.is_empty()),
                format!("{at}.columns is empty: omit it to take every column"),
            );
            need(
                table.target_name.as_ref().is_none_or(|n| !n.is_empty()),
                format!("{at}.targetName is empty: omit it to keep the source name"),
            );
            if let Some(mapping) = &table.column_mapping {
                let mut targets = std::collections::BTreeSet::new();
                for (from, to) in mapping {
                    need(
                        !to.is_empty(),
                        format!("{at}.columnMapping.{from} is empty: omit it to keep the source name"),
                    );
                    need(
                        targets.insert(to),
                        format!("{at}.columnMapping maps two columns to `{to}`: give each its own name"),
                    );
                    if let Some(columns) = &table.columns {
                        need(
                            columns.contains(from),
                            format!("{at}.columnMapping renames `{from}`, which is not in {at}.columns: add it there"),
                        );
                    }
                }
            }
            if spec.destination.kind == DestinationKind::Lindorm {
                if let Some(name) = &table.target_name {
                    need(
                        lindorm_dialect::is_table_name(name),
                        format!(
                            "{at}.targetName `{name}` is not a valid Lindorm table name: {}",
                            lindorm_dialect::TABLE_NAME_RULE
                        ),
                    );
                }
                for to in table.column_mapping.iter().flat_map(|m| m.values()) {
                    need(
                        lindorm_dialect::is_column_name(to),
                        format!(
                            "{at}.columnMapping target `{to}` is not a valid Lindorm column name: {}",
                            lindorm_dialect::COLUMN_NAME_RULE
                        ),
                    );
                }
            }
        }
    }
    // DTS's limit, kept for the same reason (a renaming task is an explicit list that has to
    // be checked and mapped object by object): with any table or column renamed, at most
    // 1,000 tables in one task. Whole databases have no limit.
    let (listed, renames) = listed_tables(spec);
    need(
        !renames || listed <= MAX_RENAMED_TABLES,
        format!(
            "spec.objects lists {listed} tables and renames tables or columns: at most {MAX_RENAMED_TABLES} tables per task when renaming. \
             Split the task in two, or select whole databases without renames"
        ),
    );
    let heartbeat = match spec.heartbeat.as_ref().filter(|h| h.enabled) {
        None => None,
        Some(h) => {
            let interval = match h.interval.as_deref().map(parse_duration) {
                None => Some(Duration::from_secs(10)),
                Some(Ok(d)) if (1..=3600).contains(&d.as_secs()) => Some(d),
                Some(Ok(_)) => {
                    problems.push("spec.heartbeat.interval must be between 1s and 1h".into());
                    None
                }
                Some(Err(e)) => {
                    problems.push(format!("spec.heartbeat.interval: {e}"));
                    None
                }
            };
            let database = h.database.clone().unwrap_or_else(default_heartbeat_database);
            if database.is_empty() {
                problems.push("spec.heartbeat.database is empty: omit it for `ferry`".into());
            }
            interval.map(|i| (i, database))
        }
    };
    let selection = match Selection::new(spec) {
        Ok(selection) => Some(selection),
        Err(filter_problems) => {
            problems.extend(filter_problems);
            None
        }
    };
    let connection = window(&mut problems, "connectionFailures", &spec.retry.connection_failures, 10, 1440);
    let other = window(&mut problems, "otherFailures", &spec.retry.other_failures, 1, 1440);
    if let (Some(c), Some(o)) = (connection, other)
        && o >= c
    {
        problems.push(format!(
            "spec.retry.otherFailures ({}) must be less than spec.retry.connectionFailures ({})",
            spec.retry.other_failures, spec.retry.connection_failures
        ));
    }
    let batch_rows = spec.worker.as_ref().and_then(|w| w.batch_rows).unwrap_or(2000) as usize;
    if !(1..=100_000).contains(&batch_rows) {
        problems.push("spec.worker.batchRows must be between 1 and 100000".into());
    }
    let apply_lanes = spec
        .worker
        .as_ref()
        .and_then(|w| w.apply_lanes)
        .unwrap_or(match spec.destination.kind {
            // Lindorm writes are independent requests without transactions: more lanes hide latency.
            DestinationKind::Lindorm => 8,
            _ => 4,
        }) as usize;
    if !(1..=64).contains(&apply_lanes) {
        problems.push("spec.worker.applyLanes must be between 1 and 64".into());
    }
    let snapshot_readers = spec.worker.as_ref().and_then(|w| w.snapshot_readers).unwrap_or(4) as usize;
    if !(1..=32).contains(&snapshot_readers) {
        problems.push("spec.worker.snapshotReaders must be between 1 and 32".into());
    }
    if !problems.is_empty() {
        return Err(ValidationError(problems));
    }
    let key = format!("{namespace}/{name}");
    Ok(ValidatedTask {
        server_id: spec.source.server_id.unwrap_or_else(|| derived_server_id(&key)),
        key,
        spec: spec.clone(),
        connection_window: connection.unwrap_or_default(),
        other_window: other.unwrap_or_default(),
        batch_rows,
        apply_lanes,
        snapshot_readers,
        selection: selection.unwrap_or_default(),
        heartbeat,
    })
}

fn default_heartbeat_database() -> String {
    "ferry".into()
}

/// Tables the spec lists, and whether it renames any table or column.
pub fn listed_tables(spec: &SyncTaskSpec) -> (usize, bool) {
    let listed = spec.objects.iter().map(|o| o.tables.as_ref().map_or(0, Vec::len)).sum();
    let renames = spec
        .objects
        .iter()
        .flat_map(|o| o.tables.iter().flatten())
        .any(|t| t.target_name.is_some() || t.column_mapping.as_ref().is_some_and(|m| !m.is_empty()));
    (listed, renames)
}

/// Longest `metadata.name`: the task key `namespace/name` (a namespace is at most 63
/// characters) fits the checkpoint's 255-character `task` column. The CRD has the same rule.
pub const MAX_NAME: usize = 191;

/// A DNS-1123 subdomain: what Kubernetes takes as an object name.
fn is_dns_subdomain(name: &str) -> bool {
    (1..=253).contains(&name.len()) && name.split('.').all(is_dns_label_part)
}

/// A DNS-1123 label: what Kubernetes takes as a namespace name.
fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && is_dns_label_part(name)
}

fn is_dns_label_part(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !part.starts_with('-')
        && !part.ends_with('-')
}

/// Most tables in a task that renames tables or columns (DTS's rule).
pub const MAX_RENAMED_TABLES: usize = 1000;

fn window(problems: &mut Vec<String>, field: &str, text: &str, min: u64, max: u64) -> Option<Duration> {
    match parse_duration(text) {
        Ok(d) if (min * 60..=max * 60).contains(&d.as_secs()) => Some(d),
        Ok(_) => {
            problems.push(format!("spec.retry.{field} `{text}` is outside {min}m..{max}m"));
            None
        }
        Err(e) => {
            problems.push(format!("spec.retry.{field}: {e}"));
            None
        }
    }
}

/// A stable server id in 1_000_000..2_000_000_000 from the task key (FNV-1a), so two tasks on
/// one source do not collide by default and a restarted worker reuses its id.
fn derived_server_id(key: &str) -> u32 {
    let hash = key
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    1_000_000 + hash % 1_999_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DestinationSpec, ObjectSpec, SecretRef, SourceSpec, TableSpec};

    fn spec() -> SyncTaskSpec {
        SyncTaskSpec {
            source: SourceSpec {
                host: "src".into(),
                port: 3306,
                credentials_secret: SecretRef { name: "s".into() },
                ..Default::default()
            },
            destination: DestinationSpec {
                host: "dst".into(),
                credentials_secret: SecretRef { name: "d".into() },
                checkpoint_database: "ferry".into(),
                ..Default::default()
            },
            objects: vec![ObjectSpec {
                database: "shop".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn default_spec_is_valid_with_default_windows() {
        let task = validate("ns", "t", &spec()).expect("valid");
        assert_eq!(task.connection_window, Duration::from_secs(720 * 60));
        assert_eq!(task.other_window, Duration::from_secs(600));
        assert_eq!(task.server_id, validate("ns", "t", &spec()).expect("valid").server_id);
    }

    #[test]
    fn lindorm_needs_valid_namespaces_and_defaults_to_eight_lanes() {
        let mut s = spec();
        s.destination.kind = DestinationKind::Lindorm;
        assert_eq!(validate("ns", "t", &s).expect("valid").apply_lanes, 8);
        s.objects[0].database = "app".into();
        s.destination.checkpoint_database = "default".into();
        let err = validate("ns", "t", &s).expect_err("bad namespaces").to_string();
        assert!(
            err.contains("destination namespace `app` is not a valid Lindorm namespace"),
            "{err}"
        );
        assert!(err.contains("set targetName"), "{err}");
        assert!(err.contains("checkpointDatabase `default`"), "{err}");
        s.objects[0].target_name = Some("app_ns".into());
        s.destination.checkpoint_database = "ferry".into();
        assert!(validate("ns", "t", &s).is_ok());
        s.destination.kind = DestinationKind::Cassandra;
        assert!(validate("ns", "t", &s).is_err());
    }

    /// Lindorm documents no way to quote a backtick in a name, and table names take only
    /// `A-Z a-z 0-9 _ - .`: such names are refused before anything runs, with the setting.
    #[test]
    fn lindorm_names_it_cannot_hold_are_refused_by_name() {
        let mut s = spec();
        s.destination.kind = DestinationKind::Lindorm;
        s.objects[0].target_name = Some("app_ns".into());
        s.objects[0].tables = Some(vec![TableSpec {
            name: "lines".into(),
            target_name: Some("order`lines".into()),
            columns: Some(vec!["qty".into()]),
            column_mapping: Some([("qty".to_string(), "q`ty".to_string())].into()),
            ..Default::default()
        }]);
        let err = validate("ns", "t", &s).expect_err("bad names").to_string();
        assert!(
            err.contains("spec.objects[0].tables[0].targetName `order`lines` is not a valid Lindorm table name"),
            "{err}"
        );
        assert!(
            err.contains("spec.objects[0].tables[0].columnMapping target `q`ty` is not a valid Lindorm column name"),
            "{err}"
        );
        s.objects[0].target_name = Some("app".into());
        let err = validate("ns", "t", &s).expect_err("3-character namespace").to_string();
        assert!(
            err.contains("destination namespace `app` is not a valid Lindorm namespace: 4 to 16 characters"),
            "{err}"
        );
    }

    #[test]
    fn refuses_windows_out_of_range_and_out_of_order() {
        let mut s = spec();
        s.retry.connection_failures = "5m".into();
        let err = validate("ns", "t", &s).expect_err("5m is too short");
        assert!(err.to_string().contains("outside 10m..1440m"), "{err}");
        s.retry.connection_failures = "20m".into();
        s.retry.other_failures = "30m".into();
        let err = validate("ns", "t", &s).expect_err("other >= connection");
        assert!(err.to_string().contains("must be less than"), "{err}");
    }

    #[test]
    fn refuses_unsupported_filters_with_their_position() {
        let mut s = spec();
        s.objects[0].tables = Some(vec![TableSpec {
            name: "t".into(),
            filter: Some("id > 1 AND ts < NOW()".into()),
            ..Default::default()
        }]);
        let err = validate("ns", "t", &s).expect_err("NOW() refused");
        assert!(
            err.to_string().contains("spec.objects[0].tables[0].filter: NOW()") && err.to_string().contains("line 1 column 17"),
            "{err}"
        );
        s.objects[0].tables.as_mut().expect("tables")[0].filter = Some("id > 1 AND name LIKE 'a%'".into());
        assert!(validate("ns", "t", &s).is_ok());
    }

    #[test]
    fn at_most_a_thousand_tables_when_renaming() {
        let mut s = spec();
        let tables: Vec<TableSpec> = (0..1001)
            .map(|i| TableSpec {
                name: format!("t{i}"),
                ..Default::default()
            })
            .collect();
        s.objects[0].tables = Some(tables);
        assert!(validate("ns", "t", &s).is_ok(), "no renames: no limit");
        s.objects[0].tables.as_mut().expect("tables")[5].target_name = Some("renamed".into());
        let err = validate("ns", "t", &s).expect_err("over the limit");
        assert!(
            err.to_string().contains("lists 1001 tables") && err.to_string().contains("at most 1000"),
            "{err}"
        );
        s.objects[0].tables.as_mut().expect("tables").truncate(1000);
        assert!(validate("ns", "t", &s).is_ok());
    }

    #[test]
    fn column_mapping_must_stay_inside_the_column_list_and_be_distinct() {
        let mut s = spec();
        s.objects[0].tables = Some(vec![TableSpec {
            name: "t".into(),
            columns: Some(vec!["a".into()]),
            column_mapping: Some([("a".to_string(), "x".to_string()), ("b".to_string(), "x".to_string())].into()),
            ..Default::default()
        }]);
        let err = validate("ns", "t", &s).expect_err("bad mapping").to_string();
        assert!(err.contains("maps two columns to `x`"), "{err}");
        assert!(err.contains("renames `b`, which is not in"), "{err}");
    }
}
