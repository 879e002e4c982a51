//! The corpus of task files in `tests/task_files/`: broken files, typos, wrong versions and
//! kinds, overflowing durations and numbers, hostile filters, names too long for where they go,
//! and their valid neighbours. Each file says in its first lines what `ferry` does with it
//! (`# expect: valid|refused`), a fragment of the message (`# fragment:`), and what `kubectl
//! apply --validate=strict --dry-run=server` does (`# kubectl:`, checked against a real
//! kube-apiserver in `tests/k8s_crd.rs`).
//!
//! Every file carries the same distinctive password; no output of `ferry validate`, `run`,
//! `precheck` or `verify` on a refused file may contain any part of it.

mod support;

use std::process::Command;

use support::corpus;

/// The password every corpus file carries, in parts that must not appear in any output.
const SECRET_PARTS: [&str; 2] = ["S3cr3t", "Corpus-7731"];

fn ferry(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run ferry");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn every_corpus_file_gets_its_answer_and_no_output_holds_a_secret() {
    let corpus = corpus();
    assert!(corpus.len() >= 40, "the corpus has {} files", corpus.len());
    assert!(corpus.iter().filter(|c| !c.1).count() >= 40, "fewer than 40 bad files");
    for (path, valid, fragment, _) in &corpus {
        let file = path.display().to_string();
        let (code, text) = ferry(&["validate", "-f", &file]);
        assert_eq!(code, Some(if *valid { 0 } else { 2 }), "{file}: {text}");
        assert!(text.contains(fragment.as_str()), "{file}: `{fragment}` not in: {text}");
        for part in SECRET_PARTS {
            assert!(!text.contains(part), "{file}: the password is in the output of validate: {text}");
        }
        if *valid {
            continue;
        }
        // The other commands load the file the same way and must answer the same, without
        // connecting anywhere and without the secret.
        for verb in ["run", "precheck", "verify"] {
            let (code, text) = ferry(&[verb, "-f", &file]);
            assert_eq!(code, Some(2), "{file}: ferry {verb}: {text}");
            assert!(
                text.contains(fragment.as_str()),
                "{file}: ferry {verb}: `{fragment}` not in: {text}"
            );
            for part in SECRET_PARTS {
                assert!(!text.contains(part), "{file}: the password is in the output of {verb}: {text}");
            }
        }
    }
}

/// `verify` flags out of range are refused with the range, before anything connects.
#[test]
fn verify_flags_out_of_range_are_refused() {
    let valid = support::root().join("tests/task_files/01-valid.yaml").display().to_string();
    let (code, text) = ferry(&["verify", "-f", &valid, "--chunk", "0"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--chunk"), "{text}");
    for settle in ["18446744073709551615h", "25h"] {
        let (code, text) = ferry(&["verify", "-f", &valid, "--settle", settle]);
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("--settle"), "{text}");
    }
}
