//! What a task selects and where it goes: databases, tables and columns, their destination
//! names (`targetName`, `columnMapping`, `capitalization`), row filters and operations —
//! resolved once from the spec and asked by discovery, the binlog reader and the prechecks.
//!
//! Naming rule: an explicit `targetName` or `columnMapping` entry is used exactly as written;
//! every other destination name is the source name under `capitalization` (`default` and
//! `source` keep it as it is, `lower` and `upper` change its case).

use std::{collections::HashMap, sync::Arc};

use super::{filter::Filter, schema::Operations};
use crate::api::{Capitalization, ObjectSpec, Operation, SyncTaskSpec, TableSpec};

/// The task's selection and name mapping.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    objects: Vec<ObjectSpec>,
    capitalization: Capitalization,
    /// Parsed filters by (database, table).
    filters: HashMap<(String, String), Arc<Filter>>,
}

impl Selection {
    /// Resolves `spec`. Fails with every filter that does not parse, by field path.
    pub fn new(spec: &SyncTaskSpec) -> Result<Selection, Vec<String>> {
        let mut filters = HashMap::new();
        let mut problems = Vec::new();
        for (i, object) in spec.objects.iter().enumerate() {
            for (j, table) in object.tables.iter().flatten().enumerate() {
                if let Some(text) = &table.filter {
                    match Filter::parse(text) {
                        Ok(f) => {
                            filters.insert((object.database.clone(), table.name.clone()), Arc::new(f));
                        }
                        Err(e) => problems.push(format!("spec.objects[{i}].tables[{j}].filter: {e}")),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Selection {
            objects: spec.objects.clone(),
            capitalization: spec.capitalization,
            filters,
        })
    }

    /// The selected source databases.
    pub fn databases(&self) -> Vec<&str> {
        self.objects.iter().map(|o| o.database.as_str()).collect()
    }

    /// The spec of `database`, if selected.
    pub fn object(&self, database: &str) -> Option<&ObjectSpec> {
        self.objects.iter().find(|o| o.database == database)
    }

    /// Whether `database`.`table` is selected: its database selects every table, or lists it.
    /// `Some(None)`: selected as part of the whole database; `Some(Some(spec))`: listed.
    pub fn table(&self, database: &str, table: &str) -> Option<Option<&TableSpec>> {
        let object = self.object(database)?;
        match &object.tables {
            None => Some(None),
            Some(tables) => tables.iter().find(|t| t.name == table).map(Some),
        }
    }

    /// Destination database (Lindorm namespace) of `database`.
    pub fn target_database(&self, database: &str) -> String {
        match self.object(database).and_then(|o| o.target_name.clone()) {
            Some(name) => name,
            None => self.cap(database),
        }
    }

    /// Destination table name of `database`.`table`.
    pub fn target_table(&self, database: &str, table: &str) -> String {
        match self.table(database, table).flatten().and_then(|t| t.target_name.clone()) {
            Some(name) => name,
            None => self.cap(table),
        }
    }

    /// Destination column name of a column of `database`.`table`.
    pub fn target_column(&self, database: &str, table: &str, column: &str) -> String {
        let mapped = self
            .table(database, table)
            .flatten()
            .and_then(|t| t.column_mapping.as_ref())
            .and_then(|m| m.get(column).cloned());
        mapped.unwrap_or_else(|| self.cap(column))
    }

    /// Operations of `database`.`table`: the table's list, else its database's, else all.
    pub fn operations(&self, database: &str, table: &str) -> Operations {
        let table_ops = self.table(database, table).flatten().and_then(|t| t.operations.as_deref());
        let db_ops = self.object(database).and_then(|o| o.operations.as_deref());
        operations(table_ops.or(db_ops))
    }

    /// The filter of `database`.`table`, unbound.
    pub fn filter(&self, database: &str, table: &str) -> Option<Arc<Filter>> {
        self.filters.get(&(database.to_string(), table.to_string())).cloned()
    }

    fn cap(&self, name: &str) -> String {
        match self.capitalization {
            Capitalization::Default | Capitalization::Source => name.to_string(),
            Capitalization::Lower => name.to_lowercase(),
            Capitalization::Upper => name.to_uppercase(),
        }
    }
}

/// The operations of a spec list; `None` is every operation.
fn operations(list: Option<&[Operation]>) -> Operations {
    let has = |op| list.is_none_or(|l| l.contains(&op));
    Operations {
        insert: has(Operation::Insert),
        update: has(Operation::Update),
        delete: has(Operation::Delete),
        create_table: has(Operation::CreateTable),
        drop_table: has(Operation::DropTable),
        add_column: has(Operation::AddColumn),
    }
}
