//! The task file of `ferry run` / `ferry precheck` / `ferry verify`: a multi-document YAML with
//! one `SyncTask` and the `Secret`s it names — exactly what `kubectl apply -f` would take.
//! A Secret not in the file is read from `FERRY_SECRET_<NAME>_<KEY>` (name upper-cased, `-` as
//! `_`). Secret values are never logged, printed or put into an error.
//!
//! Parsed as strictly as `kubectl apply --validate=strict` reads it: duplicate keys, fields the
//! SyncTask's schema (the CRD's) does not have — named with the nearest known one — an
//! apiVersion or kind Ferry does not serve, and two Secrets of one name are errors. A YAML error
//! never quotes the file: the parser's snippet is off, and inside a Secret document only the
//! position is given, since its lines hold secret values.

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
        let options = serde_saphyr::options! { with_snippet: false };
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(text, options).map_err(|e| parse_err(yaml_error(&e, text)))?;
        let mut tasks = Vec::new();
        let mut secrets = BTreeMap::new();
        for (i, doc) in docs.into_iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let n = i + 1;
            let Some(object) = doc.as_object() else {
                return Err(parse_err(format!(
                    "document {n} is {}, not a Kubernetes object: a task file holds one SyncTask and its Secrets, each a mapping \
                     with apiVersion, kind and metadata",
                    json_kind(&doc)
                )));
            };
            let api_version = object.get("apiVersion").and_then(|k| k.as_str()).unwrap_or_default();
            let kind = match object.get("kind") {
                Some(serde_json::Value::String(k)) => k.clone(),
                None => {
                    return Err(parse_err(format!(
                        "document {n} has no kind: set `kind: SyncTask` or `kind: Secret`"
                    )));
                }
                Some(other) => {
                    return Err(parse_err(format!(
                        "document {n} has a kind that is {}, not a name",
                        json_kind(other)
                    )));
                }
            };
            match kind.as_str() {
                "SyncTask" => {
                    if api_version != SYNC_TASK_API_VERSION {
                        return Err(parse_err(format!(
                            "document {n} (SyncTask) has apiVersion `{api_version}`; this Ferry serves {SYNC_TASK_API_VERSION}"
                        )));
                    }
                    let mut unknown = Vec::new();
                    unknown_fields(&doc, &sync_task_schema(), "", &mut unknown);
                    if !unknown.is_empty() {
                        return Err(parse_err(format!("document {n} (SyncTask): {}", unknown.join("; "))));
                    }
                    let task: SyncTask = serde_json::from_value(doc).map_err(|e| parse_err(format!("document {n} (SyncTask): {e}")))?;
                    tasks.push(task);
                }
                "Secret" => {
                    if api_version != "v1" {
                        return Err(parse_err(format!(
                            "document {n} (Secret) has apiVersion `{api_version}`; Secrets are `apiVersion: v1`"
                        )));
                    }
                    let name = doc
                        .pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    if name.is_empty() {
                        return Err(parse_err(format!("document {n} (Secret) has no metadata.name")));
                    }
                    if secrets.contains_key(&name) {
                        return Err(parse_err(format!(
                            "document {n} is a second Secret named `{name}`: keep one, so it is clear which values are used"
                        )));
                    }
                    let mut unknown = Vec::new();
                    unknown_fields(&doc, &secret_schema(), "", &mut unknown);
                    if !unknown.is_empty() {
                        return Err(parse_err(format!("document {n} (Secret `{name}`): {}", unknown.join("; "))));
                    }
                    let mut values = BTreeMap::new();
                    if let Some(data) = doc.get("data").and_then(|d| d.as_object()) {
                        for (k, v) in data {
                            let encoded = secret_string(&name, "data", k, v).map_err(parse_err)?;
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
                            let value = secret_string(&name, "stringData", k, v).map_err(parse_err)?;
                            values.insert(k.clone(), value.to_string());
                        }
                    }
                    secrets.insert(name, values);
                }
                other => {
                    return Err(parse_err(format!(
                        "document {n} has kind `{other}`; only SyncTask and Secret belong in a task file"
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

/// The apiVersion of the SyncTask this Ferry reads.
pub const SYNC_TASK_API_VERSION: &str = "ferry.dev/v1alpha1";

/// A Secret value as Kubernetes reads it: a string; an empty value (`password:`) is empty, as
/// the API server stores it. Anything else is refused, naming the key but never the value.
fn secret_string<'a>(name: &str, field: &str, key: &str, value: &'a serde_json::Value) -> Result<&'a str, String> {
    match value {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Null => Ok(""),
        _ => Err(format!(
            "Secret `{name}` {field}.{key} is not a string (quote the value: YAML reads unquoted numbers and true/false as other types)"
        )),
    }
}

/// What a JSON value is, for an error message (never the value itself).
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "empty",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// A YAML error without any text of the file: its position, and the parser's message unless
/// the position is inside a Secret document (whose lines are secret values).
fn yaml_error(e: &serde_saphyr::Error, text: &str) -> String {
    let at = e.location().map(|l| (l.line() as usize, l.column() as usize));
    let in_secret = at.is_some_and(|(line, _)| secret_document_at(text, line));
    match at {
        Some((line, column)) if in_secret => format!(
            "line {line}, column {column}: not valid YAML, in a Secret document (its lines are not shown, since they hold secret \
             values): check the indentation, quotes and braces around that line"
        ),
        _ => {
            let message = e
                .without_snippet()
                .to_string()
                .replace(", set DuplicateKeyPolicy in Options if acceptable", " (each key may appear once)");
            // Belt and braces: the message must not carry a line of a Secret document.
            if secret_lines(text).any(|l| !l.trim().is_empty() && message.contains(l.trim())) {
                return match at {
                    Some((line, column)) => format!("line {line}, column {column}: not valid YAML"),
                    None => "not valid YAML".into(),
                };
            }
            message
        }
    }
}

/// The documents of `text` as (first line, lines), cut at `---` lines.
fn documents(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut out = vec![(1, Vec::new())];
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            out.push((i + 2, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line);
        }
    }
    out
}

/// Whether a document's lines look like a Secret's: a `kind: Secret` line, or `data:` /
/// `stringData:` keys (a document broken before its kind still counts).
fn is_secret_like(lines: &[&str]) -> bool {
    lines.iter().any(|l| {
        let t = l.trim().trim_start_matches('{').trim();
        let kind = t.strip_prefix("kind:").map(|k| k.trim().trim_matches(['"', '\'', ',', '}']).trim());
        kind == Some("Secret") || t.starts_with("stringData") || t.starts_with("data:") || l.contains("kind: Secret")
    })
}

fn secret_document_at(text: &str, line: usize) -> bool {
    documents(text)
        .into_iter()
        .rev()
        .find(|(first, _)| *first <= line)
        .is_some_and(|(_, lines)| is_secret_like(&lines))
}

fn secret_lines(text: &str) -> impl Iterator<Item = &str> {
    documents(text)
        .into_iter()
        .filter(|(_, lines)| is_secret_like(lines))
        .flat_map(|(_, lines)| lines)
}

/// The SyncTask's schema, as the CRD gives it to the API server.
fn sync_task_schema() -> serde_json::Value {
    use kube::CustomResourceExt;
    let crd = serde_json::to_value(SyncTask::crd()).unwrap_or_default();
    let mut schema = crd.pointer("/spec/versions/0/schema/openAPIV3Schema").cloned().unwrap_or_default();
    if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
        for field in ["apiVersion", "kind"] {
            props.insert(field.into(), serde_json::json!({"type": "string"}));
        }
        props.insert("metadata".into(), object_meta_schema());
    }
    schema
}

/// The fields of a Kubernetes object's `metadata` (ObjectMeta).
fn object_meta_schema() -> serde_json::Value {
    let fields = [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    let props: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|f| (f.to_string(), serde_json::json!({"x-kubernetes-preserve-unknown-fields": true})))
        .collect();
    serde_json::json!({"type": "object", "properties": props})
}

/// The fields of a core/v1 Secret.
fn secret_schema() -> serde_json::Value {
    let free = serde_json::json!({"x-kubernetes-preserve-unknown-fields": true});
    serde_json::json!({"type": "object", "properties": {
        "apiVersion": free, "kind": free, "metadata": object_meta_schema(),
        "data": free, "stringData": free, "type": free, "immutable": free,
    }})
}

/// Fields of `value` that `schema` (a structural OpenAPI schema) does not have, each named by
/// its path with the nearest known field.
fn unknown_fields(value: &serde_json::Value, schema: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(|v| v.as_bool()) == Some(true) {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (key, v) in map {
                    let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    match props.get(key) {
                        Some(sub) => unknown_fields(v, sub, &at, out),
                        None => {
                            let nearest = props
                                .keys()
                                .map(|k| (strsim::damerau_levenshtein(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()), k))
                                .min();
                            match nearest {
                                Some((d, k)) if d <= 2.max(key.len() / 3) => out.push(format!("unknown field `{at}`, did you mean `{k}`?")),
                                _ => out.push(format!(
                                    "unknown field `{at}` (known here: {})",
                                    props.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                                )),
                            }
                        }
                    }
                }
            } else if let Some(sub) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (key, v) in map {
                    unknown_fields(v, sub, &format!("{path}.{key}"), out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(v, sub, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
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
        let err = TaskFile::parse("t.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
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
                if let Err(e) = crate::task::validate("default", &name, &file.task.spec) {
                    panic!("{}: {e}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 2, "examples/*.yaml not found");
    }
}
