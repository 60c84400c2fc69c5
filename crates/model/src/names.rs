//! Names and numbers that identify objects.

use crate::error::ModelError;
use pbx_i18n::Msg;

/// An organisation slug: 2 to 32 characters `a-z 0-9 -`, starting with a letter, not ending with `-`.
pub fn check_slug(s: &str) -> Result<(), ModelError> {
    let ok = (2..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(Msg::new("name.slug").arg("value", s)))
    }
}

/// A user name: 1 to 64 characters `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_username(s: &str) -> Result<(), ModelError> {
    let ok = (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(
            Msg::new("name.username").arg("value", s),
        ))
    }
}

/// An extension (or queue / belgroep) number: 2 to 8 digits, not starting with `0` (that is the
/// outside line) and not `112`.
pub fn check_extension_number(s: &str) -> Result<(), ModelError> {
    let digits = (2..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit());
    if !digits || s.starts_with('0') {
        return Err(ModelError::invalid(
            Msg::new("name.extension").arg("value", s),
        ));
    }
    if s == "112" || s.starts_with("112") && s.len() == 3 {
        return Err(ModelError::invalid(Msg::new("name.extension_112")));
    }
    Ok(())
}

/// A short free name (trunk, schedule, belgroep): 1 to 48 characters `a-z 0-9 . _ -`.
pub fn check_object_name(s: &str) -> Result<(), ModelError> {
    let ok = (1..=48).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(Msg::new("name.object").arg("value", s)))
    }
}

/// A SIP domain or host name (RFC 1123 labels) or an IP literal.
pub fn check_host(s: &str) -> Result<(), ModelError> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = (1..=253).contains(&s.len())
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(Msg::new("name.host").arg("value", s)))
    }
}

/// A free text (name, company): at most `max` characters, no control characters.
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), ModelError> {
    if s.chars().count() > max || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ModelError::invalid(
            Msg::new("name.text").arg("field", field).arg("max", max),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(check_slug("acme").is_ok());
        assert!(check_slug("acme-2").is_ok());
        for bad in ["a", "Acme", "1acme", "acme-", "ac me", "", &"a".repeat(33)] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extension_numbers() {
        assert!(check_extension_number("1001").is_ok());
        assert!(check_extension_number("20").is_ok());
        for bad in ["0101", "1", "112", "12a4", "123456789", ""] {
            assert!(check_extension_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        assert!(check_host("sip.provider.nl").is_ok());
        assert!(check_host("127.0.0.1").is_ok());
        assert!(check_host("::1").is_ok());
        assert!(check_host("-bad.nl").is_err());
        assert!(check_host("a..b").is_err());
    }
}
