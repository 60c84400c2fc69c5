//! Dial patterns in the style operators know from Asterisk: `_06XXXXXXXX`, `_00.`, `_1XXX`,
//! `_0[1-57-9]XXXXXXXX`, or an exact number.
//!
//! `X` is any digit, `Z` 1–9, `N` 2–9, `[…]` a set with ranges, `.` one or more of anything,
//! `!` zero or more of anything (only at the end). Without the leading `_` the pattern is an exact
//! number. [`Pattern::covers`] decides whether every number one pattern matches is matched by
//! another: that is how `pbxctl check` finds rules shadowed by an earlier rule.

use crate::error::ModelError;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The characters a dialled number may hold: `0-9`, `*`, `#`, `+`.
const ALPHABET: &str = "0123456789*#+";
const ANY: u16 = (1 << 13) - 1;

fn bit(c: char) -> Option<u16> {
    ALPHABET.find(c).map(|i| 1u16 << i)
}

/// A compiled dial pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    text: String,
    /// One character set per position.
    fixed: Vec<u16>,
    /// Minimum count of the open tail: `None` without a tail, `Some(1)` for `.`, `Some(0)` for `!`.
    tail: Option<usize>,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn parse(text: &str) -> Result<Pattern, ModelError> {
        let err = |m: Msg| ModelError::invalid(m.arg("value", text));
        if text.is_empty() || text.len() > 64 {
            return Err(err(Msg::new("pattern.length")));
        }
        let Some(body) = text.strip_prefix('_') else {
            // Exact number.
            let mut fixed = Vec::with_capacity(text.len());
            for c in text.chars() {
                fixed.push(bit(c).ok_or_else(|| err(Msg::new("pattern.char")))?);
            }
            return Ok(Pattern {
                text: text.to_string(),
                fixed,
                tail: None,
            });
        };
        let mut fixed = Vec::new();
        let mut tail = None;
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if tail.is_some() {
                return Err(err(Msg::new("pattern.tail_last")));
            }
            let set = match c.to_ascii_uppercase() {
                'X' => 0b11_1111_1111,
                'Z' => 0b11_1111_1110,
                'N' => 0b11_1111_1100,
                '.' => {
                    tail = Some(1);
                    continue;
                }
                '!' => {
                    tail = Some(0);
                    continue;
                }
                '[' => {
                    let mut set = 0u16;
                    let mut prev: Option<char> = None;
                    let mut closed = false;
                    while let Some(d) = chars.next() {
                        match d {
                            ']' => {
                                closed = true;
                                break;
                            }
                            '-' => {
                                let (Some(lo), Some(&hi)) = (prev, chars.peek()) else {
                                    return Err(err(Msg::new("pattern.range")));
                                };
                                chars.next();
                                if !lo.is_ascii_digit() || !hi.is_ascii_digit() || lo > hi {
                                    return Err(err(Msg::new("pattern.range")));
                                }
                                for x in lo..=hi {
                                    set |= bit(x).unwrap_or(0);
                                }
                                prev = None;
                            }
                            d => {
                                set |= bit(d).ok_or_else(|| err(Msg::new("pattern.char")))?;
                                prev = Some(d);
                            }
                        }
                    }
                    if !closed || set == 0 {
                        return Err(err(Msg::new("pattern.range")));
                    }
                    set
                }
                other => bit(other).ok_or_else(|| err(Msg::new("pattern.char")))?,
            };
            fixed.push(set);
        }
        if fixed.is_empty() && tail.is_none() {
            return Err(err(Msg::new("pattern.length")));
        }
        Ok(Pattern {
            text: text.to_string(),
            fixed,
            tail,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Is this an exact number (no `_`)?
    pub fn is_exact(&self) -> bool {
        !self.text.starts_with('_')
    }

    /// Does the dialled number match?
    pub fn matches(&self, number: &str) -> bool {
        let n = number.chars().count();
        let len_ok = match self.tail {
            None => n == self.fixed.len(),
            Some(min) => n >= self.fixed.len() + min,
        };
        len_ok
            && number.chars().enumerate().all(|(i, c)| {
                let set = self.fixed.get(i).copied().unwrap_or(ANY);
                bit(c).is_some_and(|b| set & b != 0)
            })
    }

    fn min_len(&self) -> usize {
        self.fixed.len() + self.tail.unwrap_or(0)
    }

    fn max_len(&self) -> Option<usize> {
        match self.tail {
            None => Some(self.fixed.len()),
            Some(_) => None,
        }
    }

    fn set_at(&self, i: usize) -> u16 {
        match self.fixed.get(i) {
            Some(s) => *s,
            None if self.tail.is_some() => ANY,
            None => 0,
        }
    }

    /// Does `self` match every number that `other` matches? Then a rule with `self` placed
    /// before a rule with `other` (and no other condition) leaves the latter unreachable.
    pub fn covers(&self, other: &Pattern) -> bool {
        if other.min_len() < self.min_len() {
            return false;
        }
        match (self.max_len(), other.max_len()) {
            (Some(_), None) => return false,
            (Some(a), Some(b)) if b > a => return false,
            _ => {}
        }
        let positions = match other.tail {
            Some(_) => self.fixed.len().max(other.fixed.len()) + 1,
            None => other.fixed.len(),
        };
        (0..positions).all(|i| {
            let o = other.set_at(i);
            o & !self.set_at(i) == 0
        })
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Pattern, String> {
        Pattern::parse(&s).map_err(|e| e.msg.to_string())
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.text
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        match Pattern::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {}", e.msg),
        }
    }

    #[test]
    fn matching() {
        assert!(p("_06XXXXXXXX").matches("0612345678"));
        assert!(!p("_06XXXXXXXX").matches("061234567"));
        assert!(!p("_06XXXXXXXX").matches("0712345678"));
        assert!(p("_00.").matches("0044123"));
        assert!(!p("_00.").matches("00"));
        assert!(p("_00!").matches("00"));
        assert!(p("_1XXX").matches("1001"));
        assert!(!p("_1XXX").matches("2001"));
        assert!(p("_0[1-57-9]XXXXXXXX").matches("0201234567"));
        assert!(!p("_0[1-57-9]XXXXXXXX").matches("0612345678"));
        assert!(p("_NXX").matches("200") && !p("_NXX").matches("100"));
        assert!(p("_ZXX").matches("100") && !p("_ZXX").matches("010"));
        assert!(p("112").matches("112") && !p("112").matches("1120"));
        assert!(!p("_X.").matches("12a"));
    }

    #[test]
    fn invalid_patterns() {
        for bad in [
            "", "_", "_0[", "_0[]", "_0[9-1]", "_0.X", "_0a", "12a", "_[1-]",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn covering() {
        assert!(p("_0.").covers(&p("_06XXXXXXXX")));
        assert!(!p("_06XXXXXXXX").covers(&p("_0.")));
        assert!(p("_X.").covers(&p("_00.")));
        assert!(p("_X!").covers(&p("_X.")));
        assert!(!p("_X.").covers(&p("_X!")));
        assert!(p("_06XXXXXXXX").covers(&p("0612345678")));
        assert!(!p("_06XXXXXXXX").covers(&p("061234567")));
        assert!(p("_0[1-9]XXXXXXXX").covers(&p("_0[2-4]XXXXXXXX")));
        assert!(!p("_0[2-4]XXXXXXXX").covers(&p("_0[1-9]XXXXXXXX")));
        assert!(!p("_00.").covers(&p("_0.")));
        assert!(p("_1XXX").covers(&p("_1XXX")));
        assert!(!p("_1XX").covers(&p("_1XXX")));
        assert!(p("_1X!").covers(&p("_1XXX")));
        assert!(!p("_1XXX.").covers(&p("_1XXX")));
    }
}
