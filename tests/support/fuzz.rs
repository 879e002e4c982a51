//! The differential fuzzer's generator: seeded random schemas over MariaDB's type matrix,
//! random workloads and DDL, random worker kills and restarts, written as a replayable
//! [`Script`]. The oracle ([`super::oracle`]) then compares source and destination with the
//! servers' own client.
//!
//! The space, and what is left out (README "Differential fuzzer" says the same):
//! - Types: TINYINT…BIGINT signed, unsigned and ZEROFILL; DECIMAL(p,s) from (1,0) to (65,30),
//!   unsigned too; FLOAT, DOUBLE (unsigned too); BIT(1…64); CHAR/VARCHAR/TINYTEXT…LONGTEXT in
//!   utf8mb4, utf8mb3, latin1, ascii, cp1251, latin2, greek with their binary, case- and
//!   accent-insensitive, PAD SPACE and NO PAD collations; BINARY/VARBINARY/TINYBLOB…LONGBLOB;
//!   DATE, DATETIME(0…6), TIMESTAMP(0…6), TIME(0…6), YEAR; JSON; ENUM and SET (a member `''`
//!   too). NULL and NOT NULL.
//! - Keys: a PRIMARY KEY of 1–3 columns of every key-able type, or only a UNIQUE key over NOT
//!   NULL columns; InnoDB mostly, MyISAM and Aria tables too.
//! - Statements: INSERT (multi-row, IGNORE, ON DUPLICATE KEY UPDATE), REPLACE, INSERT … SELECT
//!   of thousands of rows, UPDATE of values and keys (case-only and trailing-space key changes
//!   too), DELETE, in single statements, multi-statement and mixed-engine transactions with
//!   savepoints and rollbacks, XA (two-phase, one-phase, rolled back, across worker restarts),
//!   non-strict sessions (ENUM error values, clipped numbers), other session time zones.
//! - DDL between them: ADD COLUMN (FIRST/AFTER, defaults, `DEFAULT CURRENT_TIMESTAMP`), DROP
//!   COLUMN, both in one ALTER, index changes, OPTIMIZE/ANALYZE, `ENGINE=InnoDB`, `FORCE`,
//!   TRUNCATE, CREATE OR REPLACE, CREATE and DROP TABLE.
//! - The worker: killed (SIGKILL) and restarted, stopped (SIGTERM), tables leaving and coming
//!   back to `objects`; random batch sizes, apply lanes and snapshot readers.
//! - Left out: types Ferry refuses (spatial, INET4/INET6/UUID, character sets it does not
//!   decode), statements it refuses by design (RENAME, MODIFY, …: tested by the regression
//!   suite), filters, renames and column selection (tested by `dts_parity`), Lindorm and
//!   Cassandra destinations.

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use super::script::{Script, Step};

/// A character set and the characters values are drawn from (all of them exist in it).
#[derive(Clone, Copy, Debug)]
struct Charset {
    name: &'static str,
    collations: &'static [&'static str],
    chars: &'static [char],
    /// Bytes per character at most (key length limits).
    width: u32,
}

const ASCII_CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'B', 'C', 'X', 'Y', 'Z', '0', '1', '9', ' ', ' ', '_', '%', '\'', '"', '\\', '\n', '\t', '-', '.',
    '\0',
];
const LATIN1_CHARS: &[char] = &[
    'a', 'b', 'A', 'B', 'e', 'E', 'é', 'É', 'è', 'ü', 'Ü', 'ß', 's', 'ø', 'Ø', 'å', 'Å', 'ñ', 'Ñ', '€', '£', 'µ', '×', 'ÿ', '\u{a0}', ' ',
    ' ', '\'', '\\', '0',
];
const UTF8MB3_CHARS: &[char] = &[
    'a', 'b', 'A', 'B', 'e', 'é', 'É', 'ß', 's', 'S', 'ä', 'Ä', '中', '文', 'Ω', 'ω', 'ǅ', 'ﬁ', 'İ', 'ı', 'i', 'I', 'Å', '\u{212b}',
    '\u{200b}', ' ', ' ', '\'', '\\', '\n', '0',
];
const UTF8MB4_CHARS: &[char] = &[
    'a', 'b', 'A', 'B', 'e', 'é', 'É', 'ß', 's', 'ä', 'Ä', '中', 'Ω', 'ω', 'İ', 'ı', 'Å', '\u{212b}', ' ', ' ', '\'', '\\', '😀', '𝄞',
    '🀄', '\0', '0',
];
const CP1251_CHARS: &[char] = &['a', 'A', 'Ж', 'ж', 'Я', 'я', 'Ё', 'ё', 'Щ', ' ', ' ', '0', '\''];
const LATIN2_CHARS: &[char] = &['a', 'A', 'ł', 'Ł', 'ő', 'Ő', 'č', 'Č', 'ž', ' ', ' ', '0'];
const GREEK_CHARS: &[char] = &['a', 'A', 'Ω', 'ω', 'α', 'Α', 'β', 'ς', 'σ', ' ', ' ', '0'];

const CHARSETS: &[Charset] = &[
    Charset {
        name: "utf8mb4",
        collations: &[
            "utf8mb4_general_ci",
            "utf8mb4_bin",
            "utf8mb4_unicode_ci",
            "utf8mb4_unicode_520_ci",
            "utf8mb4_nopad_bin",
            "utf8mb4_general_nopad_ci",
            "utf8mb4_unicode_nopad_ci",
            "utf8mb4_german2_ci",
            "utf8mb4_turkish_ci",
            "utf8mb4_swedish_ci",
            "utf8mb4_spanish_ci",
        ],
        chars: UTF8MB4_CHARS,
        width: 4,
    },
    Charset {
        name: "utf8mb3",
        collations: &[
            "utf8mb3_general_ci",
            "utf8mb3_bin",
            "utf8mb3_unicode_ci",
            "utf8mb3_general_nopad_ci",
        ],
        chars: UTF8MB3_CHARS,
        width: 3,
    },
    Charset {
        name: "latin1",
        collations: &[
            "latin1_swedish_ci",
            "latin1_bin",
            "latin1_general_ci",
            "latin1_general_cs",
            "latin1_german2_ci",
            "latin1_danish_ci",
            "latin1_spanish_ci",
            "latin1_nopad_bin",
        ],
        chars: LATIN1_CHARS,
        width: 1,
    },
    Charset {
        name: "ascii",
        collations: &["ascii_general_ci", "ascii_bin"],
        chars: ASCII_CHARS,
        width: 1,
    },
    Charset {
        name: "cp1251",
        collations: &["cp1251_general_ci", "cp1251_bin"],
        chars: CP1251_CHARS,
        width: 1,
    },
    Charset {
        name: "latin2",
        collations: &["latin2_general_ci", "latin2_bin"],
        chars: LATIN2_CHARS,
        width: 1,
    },
    Charset {
        name: "greek",
        collations: &["greek_general_ci", "greek_bin"],
        chars: GREEK_CHARS,
        width: 1,
    },
];

/// Labels for ENUM and SET members: distinct under every collation (no case or accent
/// variants of one another), no commas.
const LABELS: &[&str] = &["zeta", "alpha", "mid", "x y", "b2", "q", "last one", "0", "10", "n-a"];

/// A column type.
#[derive(Clone, Debug)]
pub enum Ty {
    Int {
        bytes: u8,
        unsigned: bool,
        zerofill: bool,
    },
    Decimal {
        p: u32,
        s: u32,
        unsigned: bool,
    },
    Float {
        unsigned: bool,
    },
    Double {
        unsigned: bool,
    },
    Bit(u32),
    Char {
        n: u32,
        var: bool,
        cs: usize,
        coll: &'static str,
    },
    Text {
        size: u8,
        cs: usize,
        coll: &'static str,
    },
    Binary {
        n: u32,
        var: bool,
    },
    Blob {
        size: u8,
    },
    Date,
    DateTime(u8),
    Timestamp(u8),
    Time(u8),
    Year,
    Json,
    Enum {
        labels: Vec<&'static str>,
        cs: usize,
        coll: &'static str,
    },
    Set {
        labels: Vec<&'static str>,
        cs: usize,
        coll: &'static str,
    },
}

impl Ty {
    /// The type as SQL.
    pub fn sql(&self) -> String {
        let text = |cs: usize, coll: &str| format!(" CHARACTER SET {} COLLATE {coll}", CHARSETS[cs].name);
        match self {
            Ty::Int { bytes, unsigned, zerofill } => {
                let name = ["", "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "", "", "", "BIGINT"][*bytes as usize];
                format!(
                    "{name}{}{}",
                    if *unsigned { " UNSIGNED" } else { "" },
                    if *zerofill { " ZEROFILL" } else { "" }
                )
            }
            Ty::Decimal { p, s, unsigned } => format!("DECIMAL({p},{s}){}", if *unsigned { " UNSIGNED" } else { "" }),
            Ty::Float { unsigned } => format!("FLOAT{}", if *unsigned { " UNSIGNED" } else { "" }),
            Ty::Double { unsigned } => format!("DOUBLE{}", if *unsigned { " UNSIGNED" } else { "" }),
            Ty::Bit(n) => format!("BIT({n})"),
            Ty::Char { n, var, cs, coll } => format!("{}({n}){}", if *var { "VARCHAR" } else { "CHAR" }, text(*cs, coll)),
            Ty::Text { size, cs, coll } => format!(
                "{}{}",
                ["TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"][*size as usize],
                text(*cs, coll)
            ),
            Ty::Binary { n, var } => format!("{}({n})", if *var { "VARBINARY" } else { "BINARY" }),
            Ty::Blob { size } => ["TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"][*size as usize].to_string(),
            Ty::Date => "DATE".into(),
            Ty::DateTime(f) => format!("DATETIME({f})"),
            Ty::Timestamp(f) => format!("TIMESTAMP({f})"),
            Ty::Time(f) => format!("TIME({f})"),
            Ty::Year => "YEAR".into(),
            Ty::Json => "JSON".into(),
            Ty::Enum { labels, cs, coll } => format!("ENUM({}){}", quoted_list(labels), text(*cs, coll)),
            Ty::Set { labels, cs, coll } => format!("SET({}){}", quoted_list(labels), text(*cs, coll)),
        }
    }

    /// Whether a whole column of this type can be (part of) a key.
    fn keyable(&self) -> bool {
        !matches!(self, Ty::Text { .. } | Ty::Blob { .. } | Ty::Json)
    }

    /// Bytes a key column of this type takes at most (InnoDB allows 3072 per key).
    fn key_bytes(&self) -> u32 {
        match self {
            Ty::Char { n, cs, .. } => n * CHARSETS[*cs].width,
            Ty::Binary { n, .. } => *n,
            Ty::Decimal { p, .. } => p / 2 + 1,
            _ => 8,
        }
    }

    /// A random value as an SQL literal.
    fn value(&self, rng: &mut StdRng) -> String {
        match self {
            Ty::Int { bytes, unsigned, .. } => {
                let bits = 8 * u32::from(*bytes);
                let (min, max): (i128, i128) = if *unsigned {
                    (0, (1i128 << bits) - 1)
                } else {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                };
                let v = match rng.random_range(0..10) {
                    0 => min,
                    1 => max,
                    2 => 0,
                    3 => 1.clamp(min, max),
                    4 => (-1).clamp(min, max),
                    5 => rng.random_range(min..=max),
                    _ => rng.random_range(-1000i128..1000).clamp(min, max),
                };
                v.to_string()
            }
            Ty::Decimal { p, s, unsigned } => {
                let int_digits = (p - s) as usize;
                let all_nines = rng.random_bool(0.1);
                let digits = |n: usize, rng: &mut StdRng| -> String {
                    (0..n)
                        .map(|_| {
                            if all_nines {
                                '9'
                            } else {
                                char::from(b'0' + rng.random_range(0..10u8))
                            }
                        })
                        .collect()
                };
                let n = if rng.random_bool(0.5) {
                    int_digits
                } else {
                    rng.random_range(0..=int_digits.min(3))
                };
                let mut text = digits(n, rng);
                if text.is_empty() {
                    text.push('0');
                }
                if *s > 0 {
                    text.push('.');
                    text.push_str(&digits(*s as usize, rng));
                }
                if !unsigned && rng.random_bool(0.4) {
                    format!("-{text}")
                } else {
                    text
                }
            }
            Ty::Float { unsigned } => {
                let v: f32 = match rng.random_range(0..10) {
                    0 => 0.0,
                    1 => 0.1,
                    2 => f32::MAX,
                    3 => f32::MIN_POSITIVE,
                    4 => 1.0e-45,
                    5 => 16_777_217.0,
                    6 => f32::from_bits(rng.random::<u32>() & 0x7f7f_ffff),
                    _ => rng.random_range(-1000.0f32..1000.0),
                };
                let v = if *unsigned {
                    v.abs()
                } else if rng.random_bool(0.3) {
                    -v
                } else {
                    v
                };
                format!("{:e}", f64::from(v))
            }
            Ty::Double { unsigned } => {
                let v: f64 = match rng.random_range(0..10) {
                    0 => 0.0,
                    1 => 0.1,
                    2 => f64::MAX,
                    3 => 5e-324,
                    4 => 0.30000000000000004,
                    5 => f64::from_bits(rng.random::<u64>() & 0x7fef_ffff_ffff_ffff),
                    _ => rng.random_range(-1.0e6..1.0e6),
                };
                let v = if *unsigned {
                    v.abs()
                } else if rng.random_bool(0.3) {
                    -v
                } else {
                    v
                };
                format!("{v:e}")
            }
            Ty::Bit(n) => {
                let mask = if *n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                let v = match rng.random_range(0..4) {
                    0 => 0,
                    1 => mask,
                    _ => rng.random::<u64>() & mask,
                };
                v.to_string()
            }
            Ty::Char { n, cs, .. } => string_literal(&random_text(rng, CHARSETS[*cs].chars, (*n as usize).min(40))),
            Ty::Text { cs, .. } => string_literal(&random_text(rng, CHARSETS[*cs].chars, 300)),
            // BINARY(n) pads shorter values with 0x00: both kinds take any length up to n.
            Ty::Binary { n, .. } => {
                let len = rng.random_range(0..=*n as usize);
                hex_literal(&random_bytes(rng, len))
            }
            Ty::Blob { .. } => {
                let len = rng.random_range(0..=400);
                hex_literal(&random_bytes(rng, len))
            }
            Ty::Date => {
                if rng.random_bool(0.05) {
                    "'0000-00-00'".into()
                } else {
                    format!("'{}'", random_date(rng, 1000, 9999))
                }
            }
            Ty::DateTime(f) => format!("'{} {}'", random_date(rng, 1000, 9999), random_time_of_day(rng, *f)),
            Ty::Timestamp(f) => format!("'{} {}'", random_date(rng, 1971, 2037), random_time_of_day(rng, *f)),
            Ty::Time(f) => {
                let h = rng.random_range(0..=838);
                let sign = if rng.random_bool(0.3) { "-" } else { "" };
                let frac = fraction(rng, *f);
                format!("'{sign}{h}:{:02}:{:02}{frac}'", rng.random_range(0..60), rng.random_range(0..60))
            }
            Ty::Year => match rng.random_range(0..6) {
                0 => "0".into(),
                1 => "1901".into(),
                2 => "2155".into(),
                _ => rng.random_range(1901..=2155).to_string(),
            },
            Ty::Json => string_literal(&random_json(rng, 2)),
            Ty::Enum { labels, .. } => match rng.random_range(0..5) {
                // By index.
                0 => rng.random_range(1..=labels.len()).to_string(),
                _ => string_literal(labels.choose(rng).copied().unwrap_or("")),
            },
            Ty::Set { labels, .. } => {
                if rng.random_bool(0.2) {
                    rng.random_range(0..(1u64 << labels.len())).to_string()
                } else {
                    let chosen: Vec<&str> = labels.iter().copied().filter(|_| rng.random_bool(0.4)).collect();
                    string_literal(&chosen.join(","))
                }
            }
        }
    }

    /// A value that only a non-strict session can store (clipped, truncated, the ENUM error
    /// value), or an ordinary one.
    fn loose_value(&self, rng: &mut StdRng) -> String {
        match self {
            Ty::Enum { .. } => string_literal("not a member"),
            Ty::Int { .. } => "99999999999999999999".into(),
            Ty::Char { n, .. } => string_literal(&"w".repeat(*n as usize + 5)),
            Ty::Decimal { .. } => "1e70".into(),
            _ => self.value(rng),
        }
    }

    /// A value computed from the integer column `seq` (for INSERT … SELECT FROM seq_1_to_N),
    /// distinct for distinct `seq` where the type allows.
    fn seq_expr(&self) -> String {
        match self {
            Ty::Int { bytes: 1, unsigned, .. } => {
                if *unsigned {
                    "seq % 256".into()
                } else {
                    "seq % 128".into()
                }
            }
            Ty::Int { bytes: 2, .. } => "seq % 32768".into(),
            Ty::Int { .. } => "seq * 7 + 3".into(),
            Ty::Decimal { p, s, .. } => {
                let int_digits = p - s;
                if int_digits == 0 {
                    "(seq % 97) / 100".to_string()
                } else if int_digits <= 4 {
                    format!("(seq % {}) + 0.5", 10u64.pow(int_digits.min(4)) - 1)
                } else {
                    "seq / 7".into()
                }
            }
            Ty::Float { .. } => "seq * 1.5e0".into(),
            Ty::Double { .. } => "seq / 3e0".into(),
            Ty::Bit(n) => format!("seq % {}", if *n >= 63 { u64::MAX / 2 } else { 1u64 << n }),
            Ty::Char { n, .. } => format!("LEFT(CONCAT('k', seq, 'É'), {n})"),
            Ty::Text { .. } => "REPEAT(CONCAT('t', seq), 3)".into(),
            Ty::Binary { n, .. } => format!("LEFT(UNHEX(LPAD(HEX(seq * 256), 16, '0')), {n})"),
            Ty::Blob { .. } => "UNHEX(HEX(seq * 65536))".into(),
            Ty::Date => "'2000-01-01' + INTERVAL seq DAY".into(),
            Ty::DateTime(_) => "'2000-01-01 00:00:00.123456' + INTERVAL seq SECOND".into(),
            Ty::Timestamp(_) => "'2001-01-01 00:00:00.5' + INTERVAL seq MINUTE".into(),
            Ty::Time(_) => "SEC_TO_TIME(seq * 37 - 100000)".into(),
            Ty::Year => "1901 + seq % 255".into(),
            Ty::Json => "JSON_OBJECT('n', seq, 's', CONCAT('v', seq))".into(),
            Ty::Enum { labels, .. } => format!("1 + seq % {}", labels.len()),
            Ty::Set { labels, .. } => format!("seq % {}", 1u64 << labels.len()),
        }
    }

    /// Whether a key column of this type changes under `UPPER`/`LOWER`/trailing spaces.
    fn is_text(&self) -> bool {
        matches!(self, Ty::Char { .. })
    }
}

fn quoted_list(labels: &[&str]) -> String {
    labels.iter().map(|l| string_literal(l)).collect::<Vec<_>>().join(",")
}

/// A string literal with MySQL's escapes.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn hex_literal(bytes: &[u8]) -> String {
    format!("X'{}'", bytes.iter().map(|b| format!("{b:02X}")).collect::<String>())
}

fn random_text(rng: &mut StdRng, chars: &[char], max: usize) -> String {
    let len = match rng.random_range(0..6) {
        0 => 0,
        1 => max,
        _ => rng.random_range(0..=max.min(12)),
    };
    let mut s: String = (0..len).map(|_| *chars.choose(rng).unwrap_or(&'a')).collect();
    if rng.random_bool(0.15) && s.chars().count() < max {
        s.push(' ');
    }
    s
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..len)
        .map(|_| match rng.random_range(0..4) {
            0 => 0,
            1 => 0x20,
            2 => 0xff,
            _ => rng.random(),
        })
        .collect();
    // Trailing zero bytes, which the binlog strips from BINARY(n).
    if !b.is_empty() && rng.random_bool(0.3) {
        let last = b.len() - 1;
        b[last] = 0;
    }
    b
}

fn random_date(rng: &mut StdRng, from: i32, to: i32) -> String {
    let year = rng.random_range(from..=to);
    let month = rng.random_range(1..=12);
    let day = rng.random_range(1..=28);
    format!("{year:04}-{month:02}-{day:02}")
}

fn fraction(rng: &mut StdRng, fsp: u8) -> String {
    if fsp == 0 {
        return String::new();
    }
    let digits: String = (0..fsp).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    format!(".{digits}")
}

fn random_time_of_day(rng: &mut StdRng, fsp: u8) -> String {
    let frac = fraction(rng, fsp);
    format!(
        "{:02}:{:02}:{:02}{frac}",
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60)
    )
}

fn random_json(rng: &mut StdRng, depth: u32) -> String {
    match rng.random_range(0..if depth == 0 { 4 } else { 6 }) {
        0 => rng.random_range(-1000..1000).to_string(),
        1 => "null".into(),
        2 => format!("\"{}\"", ["a", "é", "x\\\"y", "中文", ""].choose(rng).unwrap_or(&"a")),
        3 => "1.5e3".into(),
        4 => format!(
            "[{}]",
            (0..rng.random_range(0..3))
                .map(|_| random_json(rng, depth - 1))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!(
            "{{{}}}",
            (0..rng.random_range(0..3))
                .map(|i| format!("\"k{i}\": {}", random_json(rng, depth - 1)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A random column type; `key`: one usable in a key.
fn random_type(rng: &mut StdRng, key: bool) -> Ty {
    loop {
        let cs = rng.random_range(0..CHARSETS.len());
        let coll = *CHARSETS[cs].collations.choose(rng).unwrap_or(&"utf8mb4_bin");
        let labels = |rng: &mut StdRng, n: usize| -> Vec<&'static str> {
            let mut all = LABELS.to_vec();
            let mut chosen = Vec::new();
            if rng.random_bool(0.2) {
                chosen.push("");
            }
            while chosen.len() < n && !all.is_empty() {
                let i = rng.random_range(0..all.len());
                chosen.push(all.remove(i));
            }
            chosen
        };
        let ty = match rng.random_range(0..19) {
            0..=2 => Ty::Int {
                bytes: *[1u8, 2, 3, 4, 8].choose(rng).unwrap_or(&4),
                unsigned: rng.random_bool(0.4),
                zerofill: rng.random_bool(0.1),
            },
            3 => {
                let p = *[1u32, 5, 10, 18, 30, 65].choose(rng).unwrap_or(&10);
                let s = rng.random_range(0..=p.min(30));
                Ty::Decimal {
                    p,
                    s,
                    unsigned: rng.random_bool(0.15),
                }
            }
            4 => Ty::Float {
                unsigned: rng.random_bool(0.1),
            },
            5 => Ty::Double {
                unsigned: rng.random_bool(0.1),
            },
            6 => Ty::Bit(*[1u32, 7, 8, 17, 63, 64].choose(rng).unwrap_or(&8)),
            7..=9 => Ty::Char {
                n: *[1u32, 3, 10, 40, 100].choose(rng).unwrap_or(&10),
                var: rng.random_bool(0.6),
                cs,
                coll,
            },
            10 => Ty::Text {
                size: rng.random_range(0..4),
                cs,
                coll,
            },
            11 => Ty::Binary {
                n: *[1u32, 4, 16, 40].choose(rng).unwrap_or(&16),
                var: rng.random_bool(0.5),
            },
            12 => Ty::Blob {
                size: rng.random_range(0..4),
            },
            13 => Ty::Date,
            14 => Ty::DateTime(rng.random_range(0..=6)),
            15 => {
                if rng.random_bool(0.5) {
                    Ty::Timestamp(rng.random_range(0..=6))
                } else {
                    Ty::Time(rng.random_range(0..=6))
                }
            }
            16 => Ty::Year,
            17 => Ty::Json,
            _ => {
                let n = rng.random_range(2..=5);
                if rng.random_bool(0.5) {
                    Ty::Enum {
                        labels: labels(rng, n),
                        cs,
                        coll,
                    }
                } else {
                    Ty::Set {
                        labels: labels(rng, n).into_iter().filter(|l| !l.is_empty()).collect(),
                        cs,
                        coll,
                    }
                }
            }
        };
        if !key || (ty.keyable() && ty.key_bytes() <= 400) {
            return ty;
        }
    }
}

/// A column of the model.
#[derive(Clone, Debug)]
struct Col {
    name: String,
    ty: Ty,
    nullable: bool,
}

/// A table of the model: what the generator believes the source has.
#[derive(Clone, Debug)]
struct Table {
    name: String,
    cols: Vec<Col>,
    /// Indices into `cols` of the key.
    key: Vec<usize>,
    /// PRIMARY KEY, or a UNIQUE key over NOT NULL columns only.
    primary: bool,
    engine: &'static str,
    next_col: usize,
}

impl Table {
    fn random(rng: &mut StdRng, name: String) -> Table {
        let key_len = *[1usize, 1, 1, 2, 2, 3].choose(rng).unwrap_or(&1);
        let mut cols = Vec::new();
        for i in 0..key_len {
            // One integer key column in most composite keys keeps rows distinct where the other
            // columns' domains are small (ENUM, BIT(1), YEAR).
            let ty = if i == key_len - 1 && key_len > 1 && rng.random_bool(0.7) {
                Ty::Int {
                    bytes: 4,
                    unsigned: false,
                    zerofill: false,
                }
            } else {
                random_type(rng, true)
            };
            cols.push(Col {
                name: format!("k{i}"),
                ty,
                nullable: false,
            });
        }
        let values = rng.random_range(1..=6);
        for i in 0..values {
            cols.push(Col {
                name: format!("c{i}"),
                ty: random_type(rng, false),
                nullable: rng.random_bool(0.6),
            });
        }
        let engine = match rng.random_range(0..12) {
            0 => "MyISAM",
            1 => "Aria",
            _ => "InnoDB",
        };
        Table {
            name,
            key: (0..key_len).collect(),
            primary: rng.random_bool(0.85),
            engine,
            next_col: values,
            cols,
        }
    }

    fn create_sql(&self, or_replace: bool) -> String {
        let mut parts: Vec<String> = self
            .cols
            .iter()
            .map(|c| format!("`{}` {}{}", c.name, c.ty.sql(), if c.nullable { " NULL" } else { " NOT NULL" }))
            .collect();
        let key: Vec<String> = self.key.iter().map(|&k| format!("`{}`", self.cols[k].name)).collect();
        parts.push(if self.primary {
            format!("PRIMARY KEY ({})", key.join(", "))
        } else {
            format!("UNIQUE KEY uk ({})", key.join(", "))
        });
        format!(
            "CREATE {}TABLE fz.`{}` ({}) ENGINE={}",
            if or_replace { "OR REPLACE " } else { "" },
            self.name,
            parts.join(", "),
            self.engine
        )
    }

    fn value_cols(&self) -> Vec<usize> {
        (0..self.cols.len()).filter(|i| !self.key.contains(i)).collect()
    }

    fn order(&self, rng: &mut StdRng) -> String {
        let desc = if rng.random_bool(0.5) { " DESC" } else { "" };
        self.key
            .iter()
            .map(|&k| format!("`{}`{desc}", self.cols[k].name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn row(&self, rng: &mut StdRng, loose: bool) -> String {
        let values: Vec<String> = self
            .cols
            .iter()
            .map(|c| {
                if c.nullable && rng.random_bool(0.2) {
                    "NULL".to_string()
                } else if loose && rng.random_bool(0.3) {
                    c.ty.loose_value(rng)
                } else {
                    c.ty.value(rng)
                }
            })
            .collect();
        format!("({})", values.join(", "))
    }

    fn columns_list(&self) -> String {
        self.cols.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(", ")
    }

    fn target(&self) -> String {
        format!("fz.`{}`", self.name)
    }
}

/// The fuzzer's settings for one case.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Workload statements per case, about.
    pub statements: usize,
    /// Tables per case, at most.
    pub tables: usize,
}

/// Generates one case: a script and the number of tables it creates.
pub fn case(seed: u64, limits: Limits) -> (Script, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = Gen {
        rng: &mut rng,
        steps: Vec::new(),
        tables: Vec::new(),
        created: 0,
        xa: 0,
        running: false,
    };
    g.generate(limits);
    let created = g.created;
    (
        Script {
            steps: g.steps,
            lenient: true,
        },
        created,
    )
}

struct Gen<'a> {
    rng: &'a mut StdRng,
    steps: Vec<Step>,
    tables: Vec<Table>,
    created: usize,
    xa: usize,
    running: bool,
}

impl Gen<'_> {
    fn sql(&mut self, s: String) {
        self.steps.push(Step::Sql(s));
    }

    fn new_table(&mut self) -> Table {
        let name = format!("t{}", self.created);
        self.created += 1;
        Table::random(self.rng, name)
    }

    fn generate(&mut self, limits: Limits) {
        let batch = *[1usize, 3, 7, 50, 2000].choose(self.rng).unwrap_or(&7);
        let lanes = *[1usize, 2, 4, 8].choose(self.rng).unwrap_or(&4);
        let readers = *[1usize, 2, 4].choose(self.rng).unwrap_or(&2);
        self.steps.push(Step::Spec(format!(
            "worker: {{batchRows: {batch}, applyLanes: {lanes}, snapshotReaders: {readers}}}"
        )));
        self.sql("CREATE DATABASE fz".into());
        self.sql("USE fz".into());
        let n = self.rng.random_range(2..=limits.tables.max(2));
        for _ in 0..n {
            let t = self.new_table();
            let sql = t.create_sql(false);
            self.sql(sql);
            self.tables.push(t);
        }
        // Initial rows: copied by the full sync.
        for i in 0..self.tables.len() {
            let rows = self.rng.random_range(0..60);
            for _ in 0..rows / 10 {
                self.insert(i, false);
            }
            if self.rng.random_bool(0.4) {
                self.bulk_insert(i);
            }
        }
        self.sql("ANALYZE TABLE ".to_string() + &self.tables.iter().map(Table::target).collect::<Vec<_>>().join(", "));
        // Start at once, or after part of the workload.
        let start_at = if self.rng.random_bool(0.5) {
            0
        } else {
            self.rng.random_range(0..limits.statements / 3 + 1)
        };
        let mut done = 0;
        let mut started = false;
        let mut kills = self.rng.random_range(0..=3);
        let mut left: Option<String> = None;
        while done < limits.statements {
            if !self.running && done >= start_at {
                self.steps.push(Step::Start);
                self.running = true;
                if !started {
                    // The task's start position is taken with no XA transaction prepared (a
                    // task waits for those to end; see `ensure_no_prepared_xa`): let it get
                    // there before the workload prepares one.
                    self.steps.push(Step::Wait);
                    started = true;
                }
            }
            done += self.workload_step();
            if self.running && kills > 0 && self.rng.random_bool(0.03) {
                kills -= 1;
                match self.rng.random_range(0..6) {
                    0 => {
                        self.steps.push(Step::Wait);
                        self.steps.push(Step::Stop);
                    }
                    1 => {
                        self.steps.push(Step::Wait);
                        self.steps.push(Step::Kill);
                    }
                    _ => self.steps.push(Step::Kill),
                }
                self.running = false;
                // A table leaves the selection for a while, and comes back later.
                if left.is_none() && self.tables.len() > 1 && self.rng.random_bool(0.2) {
                    let i = self.rng.random_range(0..self.tables.len());
                    let name = self.tables[i].name.clone();
                    let others: Vec<String> = self
                        .tables
                        .iter()
                        .filter(|t| t.name != name)
                        .map(|t| format!("{{name: {}}}", t.name))
                        .collect();
                    self.steps
                        .push(Step::Objects(format!("[{{database: fz, tables: [{}]}}]", others.join(", "))));
                    left = Some(name);
                } else if left.take().is_some() {
                    self.steps.push(Step::Objects("[{database: fz}]".into()));
                }
                if self.rng.random_bool(0.8) {
                    self.steps.push(Step::Start);
                    self.running = true;
                }
            }
        }
        if left.is_some() {
            // The last selection must cover the whole database, which the oracle compares.
            if self.running {
                self.steps.push(Step::Stop);
                self.running = false;
            }
            self.steps.push(Step::Objects("[{database: fz}]".into()));
        }
        if !self.running {
            self.steps.push(Step::Start);
        }
    }

    /// One step of the workload; returns how many statements it wrote.
    fn workload_step(&mut self) -> usize {
        if self.tables.is_empty() {
            let t = self.new_table();
            let sql = t.create_sql(false);
            self.sql(sql);
            self.tables.push(t);
            return 1;
        }
        let i = self.rng.random_range(0..self.tables.len());
        let before = self.steps.len();
        match self.rng.random_range(0..100) {
            0..=24 => self.insert(i, false),
            25..=34 => self.update(i),
            35..=41 => self.update_key(i),
            42..=48 => self.delete(i),
            49..=52 => self.bulk_insert(i),
            53..=54 => self.bulk_update(i),
            55..=66 => self.transaction(),
            67..=70 => self.xa(),
            71..=73 => self.loose_session(i),
            74..=75 => {
                let tz = *["'+00:00'", "'+05:30'", "'-08:00'", "SYSTEM"].choose(self.rng).unwrap_or(&"SYSTEM");
                self.sql(format!("SET SESSION time_zone = {tz}"));
            }
            76..=87 => self.ddl(i),
            _ => {
                let t = &self.tables[i];
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    t.target(),
                    t.columns_list(),
                    t.row(self.rng, false)
                );
                self.sql(sql);
            }
        }
        self.steps.len() - before
    }

    fn insert(&mut self, i: usize, loose: bool) {
        let t = &self.tables[i];
        let rows: Vec<String> = (0..self.rng.random_range(1..=5)).map(|_| t.row(self.rng, loose)).collect();
        let verb = match self.rng.random_range(0..6) {
            0 => "INSERT IGNORE INTO",
            1 => "REPLACE INTO",
            _ => "INSERT INTO",
        };
        let mut sql = format!("{verb} {} ({}) VALUES {}", t.target(), t.columns_list(), rows.join(", "));
        if verb == "INSERT INTO" && self.rng.random_bool(0.3) {
            let values = t.value_cols();
            if let Some(&c) = values.choose(self.rng) {
                let col = &t.cols[c];
                let rhs = if self.rng.random_bool(0.5) {
                    format!("VALUES(`{}`)", col.name)
                } else {
                    col.ty.value(self.rng)
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE `{}` = {rhs}", col.name));
            }
        }
        self.sql(sql);
    }

    fn limit(&mut self) -> usize {
        *[1usize, 1, 2, 5, 20].choose(self.rng).unwrap_or(&1)
    }

    fn update(&mut self, i: usize) {
        let t = self.tables[i].clone();
        let values = t.value_cols();
        let Some(&c) = values.choose(self.rng) else { return };
        let col = &t.cols[c];
        let value = if col.nullable && self.rng.random_bool(0.15) {
            "NULL".into()
        } else {
            col.ty.value(self.rng)
        };
        let limit = self.limit();
        let order = t.order(self.rng);
        self.sql(format!(
            "UPDATE {} SET `{}` = {value} ORDER BY {order} LIMIT {limit}",
            t.target(),
            col.name
        ));
    }

    fn update_key(&mut self, i: usize) {
        let t = self.tables[i].clone();
        let k = t.key[self.rng.random_range(0..t.key.len())];
        let col = &t.cols[k];
        let name = &col.name;
        let set = if col.ty.is_text() && self.rng.random_bool(0.7) {
            match self.rng.random_range(0..4) {
                0 => format!("UPPER(`{name}`)"),
                1 => format!("LOWER(`{name}`)"),
                2 => format!("CONCAT(`{name}`, ' ')"),
                _ => format!("RTRIM(`{name}`)"),
            }
        } else {
            col.ty.value(self.rng)
        };
        let limit = if self.rng.random_bool(0.2) { 1000 } else { 1 };
        let order = t.order(self.rng);
        self.sql(format!(
            "UPDATE IGNORE {} SET `{name}` = {set} ORDER BY {order} LIMIT {limit}",
            t.target()
        ));
    }

    fn delete(&mut self, i: usize) {
        let t = self.tables[i].clone();
        let limit = self.limit();
        let order = t.order(self.rng);
        self.sql(format!("DELETE FROM {} ORDER BY {order} LIMIT {limit}", t.target()));
    }

    fn bulk_insert(&mut self, i: usize) {
        let t = &self.tables[i];
        let n = *[100usize, 500, 2500].choose(self.rng).unwrap_or(&100);
        let offset = self.rng.random_range(0..100_000);
        let exprs: Vec<String> = t
            .cols
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if t.key.contains(&j) {
                    c.ty.seq_expr().replace("seq", &format!("(seq + {offset})"))
                } else if c.nullable && j % 3 == 0 {
                    "NULL".to_string()
                } else {
                    c.ty.seq_expr()
                }
            })
            .collect();
        let sql = format!(
            "INSERT IGNORE INTO {} ({}) SELECT {} FROM seq_1_to_{n}",
            t.target(),
            t.columns_list(),
            exprs.join(", ")
        );
        self.sql(sql);
    }

    fn bulk_update(&mut self, i: usize) {
        let t = self.tables[i].clone();
        let values = t.value_cols();
        let Some(&c) = values.choose(self.rng) else { return };
        let col = &t.cols[c];
        let value = col.ty.value(self.rng);
        self.sql(format!("UPDATE {} SET `{}` = {value}", t.target(), col.name));
    }

    /// A multi-statement transaction, with savepoints, ending in COMMIT or ROLLBACK.
    fn transaction(&mut self) {
        let begin = if self.rng.random_bool(0.5) { "BEGIN" } else { "START TRANSACTION" };
        self.sql(begin.into());
        let mut savepoints: Vec<String> = Vec::new();
        for _ in 0..self.rng.random_range(1..8) {
            let i = self.rng.random_range(0..self.tables.len());
            match self.rng.random_range(0..10) {
                0 => {
                    let name = format!("sp{}", savepoints.len());
                    self.sql(format!("SAVEPOINT {name}"));
                    savepoints.push(name);
                }
                1 if !savepoints.is_empty() => {
                    let at = self.rng.random_range(0..savepoints.len());
                    self.sql(format!("ROLLBACK TO SAVEPOINT {}", savepoints[at]));
                    savepoints.truncate(at + 1);
                }
                2 if !savepoints.is_empty() => {
                    let name = savepoints.pop().unwrap_or_default();
                    self.sql(format!("RELEASE SAVEPOINT {name}"));
                }
                3..=5 => self.insert(i, false),
                6 => self.update(i),
                7 => self.update_key(i),
                8 => self.delete(i),
                _ => self.bulk_insert(i),
            }
        }
        let end = if self.rng.random_bool(0.8) { "COMMIT" } else { "ROLLBACK" };
        self.sql(end.into());
    }

    /// An XA transaction: prepared and committed or rolled back later (from another session,
    /// perhaps across a worker restart), or committed in one phase.
    fn xa(&mut self) {
        let xid = format!("'fzx{}'", self.xa);
        self.xa += 1;
        let innodb: Vec<usize> = (0..self.tables.len()).filter(|&i| self.tables[i].engine == "InnoDB").collect();
        if innodb.is_empty() {
            return;
        }
        self.steps.push(Step::Session(2));
        self.sql(format!("XA START {xid}"));
        for _ in 0..self.rng.random_range(1..4) {
            let i = *innodb.choose(self.rng).unwrap_or(&0);
            match self.rng.random_range(0..4) {
                0 => self.update(i),
                1 => self.delete(i),
                _ => self.insert(i, false),
            }
        }
        self.sql(format!("XA END {xid}"));
        if self.rng.random_bool(0.2) {
            self.sql(format!("XA COMMIT {xid} ONE PHASE"));
            self.steps.push(Step::Session(1));
            return;
        }
        self.sql(format!("XA PREPARE {xid}"));
        self.steps.push(Step::Disconnect);
        // Other work before the outcome, perhaps with the worker restarted in between.
        for _ in 0..self.rng.random_range(0..3) {
            let i = self.rng.random_range(0..self.tables.len());
            self.insert(i, false);
        }
        if self.running && self.rng.random_bool(0.3) {
            self.steps.push(Step::Wait);
            self.steps.push(Step::Kill);
            self.steps.push(Step::Start);
        }
        let outcome = if self.rng.random_bool(0.7) { "COMMIT" } else { "ROLLBACK" };
        self.sql(format!("XA {outcome} {xid}"));
    }

    /// A non-strict session writes values a strict one would refuse.
    fn loose_session(&mut self, i: usize) {
        self.sql("SET SESSION sql_mode = ''".into());
        self.insert(i, true);
        self.sql("SET SESSION sql_mode = DEFAULT".into());
    }

    fn ddl(&mut self, i: usize) {
        match self.rng.random_range(0..14) {
            0..=3 => {
                // ADD COLUMN, perhaps with a DEFAULT, a position, and a DROP in the same ALTER.
                let ty = random_type(self.rng, false);
                let t = &mut self.tables[i];
                let name = format!("c{}", t.next_col);
                t.next_col += 1;
                let nullable = self.rng.random_bool(0.6);
                let default = match (&ty, self.rng.random_range(0..4)) {
                    (Ty::Text { .. } | Ty::Blob { .. } | Ty::Json, _) => String::new(),
                    (Ty::DateTime(f) | Ty::Timestamp(f), 0) => format!(" DEFAULT CURRENT_TIMESTAMP({f})"),
                    (_, 1 | 2) => format!(" DEFAULT {}", ty.value(self.rng)),
                    _ => String::new(),
                };
                let null = if nullable { " NULL" } else { " NOT NULL" };
                let position = match self.rng.random_range(0..4) {
                    0 => " FIRST".to_string(),
                    1 => format!(" AFTER `{}`", t.cols[self.rng.random_range(0..t.cols.len())].name),
                    _ => String::new(),
                };
                let mut alter = format!(
                    "ALTER TABLE {} ADD COLUMN `{name}` {}{null}{default}{position}",
                    t.target(),
                    ty.sql()
                );
                let col = Col { name, ty, nullable };
                match position.as_str() {
                    " FIRST" => {
                        t.cols.insert(0, col);
                        t.key.iter_mut().for_each(|k| *k += 1);
                    }
                    p if p.starts_with(" AFTER") => {
                        let after = p.trim_start_matches(" AFTER `").trim_end_matches('`').to_string();
                        let at = t.cols.iter().position(|c| c.name == after).map_or(t.cols.len(), |a| a + 1);
                        t.cols.insert(at, col);
                        t.key.iter_mut().filter(|k| **k >= at).for_each(|k| *k += 1);
                    }
                    _ => t.cols.push(col),
                }
                let values = t.value_cols();
                if values.len() > 2 && self.rng.random_bool(0.3) {
                    let drop = values[self.rng.random_range(0..values.len())];
                    alter.push_str(&format!(", DROP COLUMN `{}`", t.cols[drop].name));
                    t.cols.remove(drop);
                    t.key.iter_mut().filter(|k| **k > drop).for_each(|k| *k -= 1);
                }
                self.sql(alter);
            }
            4 | 5 => {
                let t = &mut self.tables[i];
                let values = t.value_cols();
                if values.len() > 1 {
                    let drop = values[self.rng.random_range(0..values.len())];
                    let sql = format!("ALTER TABLE {} DROP COLUMN `{}`", t.target(), t.cols[drop].name);
                    t.cols.remove(drop);
                    t.key.iter_mut().filter(|k| **k > drop).for_each(|k| *k -= 1);
                    self.sql(sql);
                }
            }
            6 => {
                let t = &self.tables[i];
                let sql = match self.rng.random_range(0..7) {
                    0 => format!("OPTIMIZE TABLE {}", t.target()),
                    1 => format!("ANALYZE TABLE {}", t.target()),
                    2 => format!("ALTER TABLE {} ENGINE={}", t.target(), t.engine),
                    3 => format!("ALTER TABLE {} FORCE", t.target()),
                    4 => format!("ALTER TABLE {} COMMENT 'fuzzed', ALGORITHM=COPY", t.target()),
                    5 => format!(
                        "ALTER TABLE {} ADD INDEX ix{} (`{}`)",
                        t.target(),
                        self.rng.random_range(0..1000),
                        t.cols[t.key[0]].name
                    ),
                    _ => format!("CHECK TABLE {}", t.target()),
                };
                self.sql(sql);
            }
            7 => {
                let t = &self.tables[i];
                let sql = format!("TRUNCATE TABLE {}", t.target());
                self.sql(sql);
            }
            8 | 9 => {
                // CREATE OR REPLACE: a new shape under the same name.
                let name = self.tables[i].name.clone();
                let mut t = Table::random(self.rng, name);
                t.engine = "InnoDB";
                let sql = t.create_sql(true);
                self.sql(sql);
                self.tables[i] = t;
                if self.rng.random_bool(0.5) {
                    self.insert(i, false);
                }
            }
            10 | 11 => {
                let t = self.new_table();
                let sql = t.create_sql(false);
                self.sql(sql);
                self.tables.push(t);
                let j = self.tables.len() - 1;
                self.insert(j, false);
            }
            12 if self.tables.len() > 1 => {
                let t = self.tables.remove(i);
                self.sql(format!("DROP TABLE {}", t.target()));
            }
            _ => {
                // A change of engine keeps the rows: InnoDB ↔ MyISAM.
                let t = &mut self.tables[i];
                let engine = if t.engine == "InnoDB" { "MyISAM" } else { "InnoDB" };
                t.engine = engine;
                let sql = format!("ALTER TABLE {} ENGINE={engine}", t.target());
                self.sql(sql);
            }
        }
    }
}

/// Reduces a failing script: drops whole tables' statements, then runs of statements, as long as
/// `fails` says the smaller script still fails, within `budget` runs.
pub async fn reduce<F, Fut>(script: &Script, budget: usize, mut fails: F) -> Script
where
    F: FnMut(Script) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut best = script.clone();
    let mut runs = 0;
    // The statements of one table at a time.
    let mut names: Vec<String> = best
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Sql(sql) if sql.starts_with("CREATE ") => sql.split('`').nth(1).map(str::to_string),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        if runs >= budget {
            break;
        }
        let marker = format!("`{name}`");
        let candidate = Script {
            steps: best
                .steps
                .iter()
                .filter(|s| !matches!(s, Step::Sql(sql) if sql.contains(&marker)))
                .cloned()
                .collect(),
            lenient: true,
        };
        if candidate.steps.len() == best.steps.len() {
            continue;
        }
        runs += 1;
        if fails(candidate.clone()).await {
            best = candidate;
        }
    }
    // Then runs of steps, halving their length (ddmin's complement step).
    let mut chunk = best.steps.len() / 2;
    while chunk >= 1 && runs < budget {
        let mut at = 2; // keep CREATE DATABASE and USE
        let mut removed_any = false;
        while at < best.steps.len() && runs < budget {
            let end = (at + chunk).min(best.steps.len());
            let mut steps = best.steps.clone();
            steps.drain(at..end);
            let candidate = Script { steps, lenient: true };
            runs += 1;
            if fails(candidate.clone()).await {
                best = candidate;
                removed_any = true;
            } else {
                at = end;
            }
        }
        if !removed_any {
            chunk /= 2;
        }
    }
    best
}
