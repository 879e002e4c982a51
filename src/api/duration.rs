//! Durations as written in a SyncTask: a whole number and a unit, `s`, `m` or `h` (`720m`, `12h`).

use std::time::Duration;

/// Longest duration accepted anywhere (a year): every field's own range is narrower.
pub const MAX_SECONDS: u64 = 366 * 24 * 3600;

/// Parses `720m`, `12h`, `30s`. Returns a message fit for a validation error on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit; write it like `720m`, `12h` or `30s`"))?;
    let (number, unit) = text.split_at(split);
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{text}` has unit `{unit}`; use `s`, `m` or `h`")),
    };
    if number.is_empty() {
        return Err(format!("`{text}` does not start with a whole number"));
    }
    // Checked: a number too large for any duration is refused, not wrapped into a small one.
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .filter(|&s| s <= MAX_SECONDS)
        .ok_or_else(|| format!("`{text}` is longer than any duration Ferry takes (at most {}h)", MAX_SECONDS / 3600))?;
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_garbage() {
        assert_eq!(parse_duration("720m"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("3d").is_err());
        // Overflow is refused, not wrapped (307445734561825871m used to wrap to 644 s).
        for huge in [
            "307445734561825871m",
            "5124095576030432h",
            "18446744073709551615h",
            "99999999999999999999h",
            "8785h",
        ] {
            let err = parse_duration(huge).expect_err(huge);
            assert!(
                err.contains("longer than any duration Ferry takes (at most 8784h)"),
                "{huge}: {err}"
            );
        }
        assert_eq!(parse_duration("8784h"), Ok(Duration::from_secs(8784 * 3600)));
    }
}
