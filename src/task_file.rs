//! The task file of `ferry run` / `ferry precheck` / `ferry verify`: a multi-document YAML with
//! one `SyncTask` and the `Secret`s it names — exactly what `kubectl apply -f` would take.
//! A Secret not in the file is read from `FERRY_SECRET_<NAME>_<KEY>` (name upper-cased, `-` as
//! `_`). Secret values are never logged, printed or put into an error.

use std::{collections::BTreeMap, path::Path};

use base64::Engine;

use crate::api::{SecretRef, SyncTask};

/// Credentials read from a Secret. `Debug` hides the password.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ****)", self.username)
    }
}

/// A loaded task file.
pub struct TaskFile {
    pub task: SyncTask,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why a task file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TaskFileError {
    #[error("failed to read task file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("failed to parse task file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("task file {path} has {count} SyncTask documents; put exactly one SyncTask in the file")]
    TaskCount { path: String, count: usize },
    #[error("Secret `{name}` has no key `{key}`: add it to the Secret document in the task file, or set {env}")]
    MissingSecret { name: String, key: String, env: String },
}

impl TaskFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<TaskFile, TaskFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TaskFileError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text)
    }

    /// Parses the text of a task file named `path`.
    pub fn parse(path: &str, text: &str) -> Result<TaskFile, TaskFileError> {
        let parse_err = |message: String| TaskFileError::Parse {
            path: path.to_string(),
            message,
        };
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| parse_err(e.to_string()))?;
        let mut tasks = Vec::new();
        let mut secrets = BTreeMap::new();
        for (i, doc) in docs.into_iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
            match kind.as_str() {
                "SyncTask" => {
                    let task: SyncTask =
                        serde_json::from_value(doc).map_err(|e| parse_err(format!("document {} (SyncTask): {e}", i + 1)))?;
                    tasks.push(task);
                }
                "Secret" => {
                    let name = doc
                        .pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let mut values = BTreeMap::new();
                    if let Some(data) = doc.get("data").and_then(|d| d.as_object()) {
                        for (k, v) in data {
                            let encoded = v.as_str().unwrap_or_default();
                            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| {
                                parse_err(format!(
                                    "Secret `{name}` key `{k}` is not valid base64 (use stringData for plain text)"
                                ))
                            })?;
                            values.insert(k.clone(), String::from_utf8_lossy(&bytes).into_owned());
                        }
                    }
                    if let Some(data) = doc.get("stringData").and_then(|d| d.as_object()) {
                        for (k, v) in data {
                            let value = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                            values.insert(k.clone(), value);
                        }
                    }
                    secrets.insert(name, values);
                }
                other => {
                    return Err(parse_err(format!(
                        "document {} has kind `{other}`; only SyncTask and Secret belong in a task file",
                        i + 1
                    )));
                }
            }
        }
        if tasks.len() != 1 {
            return Err(TaskFileError::TaskCount {
                path: path.to_string(),
                count: tasks.len(),
            });
        }
        Ok(TaskFile {
            task: tasks.remove(0),
            secrets,
        })
    }

    /// Reads `key` of the Secret `name`: from the file, else from the environment.
    pub fn secret_value(&self, name: &str, key: &str) -> Result<String, TaskFileError> {
        if let Some(v) = self.secrets.get(name).and_then(|s| s.get(key)) {
            return Ok(v.clone());
        }
        let env = crate::api::secret_env_var(name, key);
        std::env::var(&env).map_err(|_| TaskFileError::MissingSecret {
            name: name.to_string(),
            key: key.to_string(),
            env,
        })
    }

    /// The `username` and `password` of a credentials Secret.
    pub fn credentials(&self, secret: &SecretRef) -> Result<Credentials, TaskFileError> {
        Ok(Credentials {
            username: self.secret_value(&secret.name, "username")?,
            password: self.secret_value(&secret.name, "password")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
apiVersion: ferry.dev/v1alpha1
kind: SyncTask
metadata: {name: demo}
spec:
  source: {host: 127.0.0.1, port: 3307, credentialsSecret: {name: src-creds}}
  destination: {type: mysql, host: 127.0.0.1, port: 3308, credentialsSecret: {name: dst-creds}}
  objects: [{database: shop}]
---
apiVersion: v1
kind: Secret
metadata: {name: src-creds}
stringData: {username: root, password: "s3cret"}
---
apiVersion: v1
kind: Secret
metadata: {name: dst-creds}
data: {username: cm9vdA==}
"#;

    #[test]
    fn resolves_secrets_from_file_and_reports_missing_keys_without_values() {
        let file = TaskFile::parse("t.yaml", FILE).expect("parses");
        assert_eq!(file.task.spec.source.port, 3307);
        let src = file.credentials(&SecretRef { name: "src-creds".into() }).expect("in file");
        assert_eq!((src.username.as_str(), src.password.as_str()), ("root", "s3cret"));
        assert!(!format!("{src:?}").contains("s3cret"));
        let err = file.credentials(&SecretRef { name: "dst-creds".into() }).expect_err("no password");
        assert!(err.to_string().contains("FERRY_SECRET_DST_CREDS_PASSWORD"), "{err}");
    }

    #[test]
    fn refuses_files_without_exactly_one_task() {
        let err = TaskFile::parse("t.yaml", "kind: Secret\nmetadata: {name: x}\n")
            .err()
            .expect("no task");
        assert!(err.to_string().contains("0 SyncTask"), "{err}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// Every task in `examples/` parses and passes validation, so the docs stay in step.
    #[test]
    fn examples_are_valid_tasks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("examples/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let file = TaskFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                let name = file.task.metadata.name.clone().unwrap_or_default();
                if let Err(e) = crate::api::validate("default", &name, &file.task.spec) {
                    panic!("{}: {e}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 2, "examples/*.yaml not found");
    }
}
