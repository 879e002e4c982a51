//! Durations as written in a SyncTask: a whole number and a unit, `s`, `m` or `h` (`720m`, `12h`).

use std::time::Duration;

/// Parses `720m`, `12h`, `30s`. Returns a message fit for a validation error on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit; write it like `720m`, `12h` or `30s`"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return Err(format!("`{text}` has unit `{unit}`; use `s`, `m` or `h`")),
    };
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
    }
}
