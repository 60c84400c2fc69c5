//! The Dutch numbering plan: normalisation to E.164 and the call classes that permissions use.

use crate::error::ModelError;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A number in E.164 form: `+` followed by 8 to 15 digits, the first not `0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Parses a number already in E.164 form.
    pub fn parse(s: &str) -> Result<E164, ModelError> {
        let digits = s.strip_prefix('+').unwrap_or("");
        let ok = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(E164(s.to_string()))
        } else {
            Err(ModelError::invalid(Msg::new("number.e164").arg("value", s)))
        }
    }

    /// Normalises a number as people write it in the Netherlands (`06 1234 5678`, `+31 (0)20 …`,
    /// `0031 …`, `020-1234567`) to E.164. Short numbers (112, extensions) are not E.164 and are
    /// refused here; see [`classify`].
    pub fn normalise(input: &str) -> Result<E164, ModelError> {
        let mut s: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '\u{a0}'))
            .collect();
        // "+31 (0)20 …": the trunk prefix between brackets is dropped.
        s = s.replace("(0)", "");
        s.retain(|c| c != '(' && c != ')');
        let e164 = if let Some(rest) = s.strip_prefix('+') {
            format!("+{rest}")
        } else if let Some(rest) = s.strip_prefix("00") {
            format!("+{rest}")
        } else if let Some(rest) = s.strip_prefix('0') {
            format!("+31{rest}")
        } else {
            return Err(ModelError::invalid(
                Msg::new("number.not_normalisable").arg("value", input),
            ));
        };
        // "+310…" is a national number written with its trunk prefix.
        let e164 = match e164.strip_prefix("+310") {
            Some(rest) => format!("+31{rest}"),
            None => e164,
        };
        if e164
            .strip_prefix("+31")
            .is_some_and(|nat| !national_length_ok(nat))
        {
            return Err(ModelError::invalid(
                Msg::new("number.national_length").arg("value", input),
            ));
        }
        E164::parse(&e164)
            .map_err(|_| ModelError::invalid(Msg::new("number.e164").arg("value", input)))
    }

    /// The number as text, with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Dutch national form (`0201234567`) of a +31 number, else the international one
    /// (`0044…`), as a caller in the Netherlands dials it.
    pub fn national(&self) -> String {
        match self.0.strip_prefix("+31") {
            Some(rest) => format!("0{rest}"),
            None => format!("00{}", &self.0[1..]),
        }
    }
}

/// The length of a Dutch number without its trunk prefix `0`: 9 digits, except the free and
/// premium-rate ranges (0800, 0900, 0906, 0909) with 4 or 7 digits after the prefix.
fn national_length_ok(nat: &str) -> bool {
    let special = ["800", "900", "906", "909"]
        .iter()
        .any(|p| nat.starts_with(p));
    if special {
        nat.len() == 7 || nat.len() == 10
    } else {
        nat.len() == 9
    }
}

impl TryFrom<String> for E164 {
    type Error = String;
    fn try_from(s: String) -> Result<E164, String> {
        E164::parse(&s).map_err(|e| e.msg.to_string())
    }
}

impl From<E164> for String {
    fn from(e: E164) -> String {
        e.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of number was dialled; call permissions are decided per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberClass {
    /// 112: always allowed, cannot be switched off.
    Alarm,
    /// Extensions and other internal short numbers.
    Intern,
    /// Geographic and non-geographic Dutch numbers (010…, 085…, 088…, 14 0xx).
    VastNationaal,
    /// Dutch mobile numbers (06…).
    Mobiel,
    /// Free numbers (0800, 116xxx).
    Gratis,
    /// Premium-rate numbers (0900, 0906, 0909; 18xx and 118xx directory enquiries).
    Betaalnummers,
    /// Everything outside +31.
    Internationaal,
}

impl NumberClass {
    /// Every class, in the order of the interface.
    pub const ALL: [NumberClass; 7] = [
        NumberClass::Alarm,
        NumberClass::Intern,
        NumberClass::VastNationaal,
        NumberClass::Mobiel,
        NumberClass::Gratis,
        NumberClass::Betaalnummers,
        NumberClass::Internationaal,
    ];

    /// The name used in config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberClass::Alarm => "alarm",
            NumberClass::Intern => "intern",
            NumberClass::VastNationaal => "vast_nationaal",
            NumberClass::Mobiel => "mobiel",
            NumberClass::Gratis => "gratis",
            NumberClass::Betaalnummers => "betaalnummers",
            NumberClass::Internationaal => "internationaal",
        }
    }

    /// Parses a class name.
    pub fn parse(s: &str) -> Option<NumberClass> {
        NumberClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Classifies a dialled number (digits as dialled, or E.164).
///
/// Returns `None` for input that is no number at all.
pub fn classify(dialled: &str) -> Option<NumberClass> {
    let s: String = dialled
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    if is_alarm(&s) {
        return Some(NumberClass::Alarm);
    }
    if s.is_empty()
        || !s
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        return None;
    }
    if s.starts_with("116") && s.len() == 6 {
        return Some(NumberClass::Gratis);
    }
    if s.starts_with("118") && s.len() == 5 {
        return Some(NumberClass::Betaalnummers);
    }
    if s.starts_with("140") && (5..=6).contains(&s.len()) {
        return Some(NumberClass::VastNationaal);
    }
    if !s.starts_with('0') && !s.starts_with('+') {
        return Some(NumberClass::Intern);
    }
    let e = E164::normalise(&s).ok()?;
    let Some(nat) = e.as_str().strip_prefix("+31") else {
        return Some(NumberClass::Internationaal);
    };
    Some(if nat.starts_with('6') {
        NumberClass::Mobiel
    } else if nat == POLITIE_GEEN_SPOED {
        // 0900-8844, the police's non-emergency number, costs the local rate.
        NumberClass::VastNationaal
    } else if nat.starts_with("800") {
        NumberClass::Gratis
    } else if nat.starts_with("900") || nat.starts_with("906") || nat.starts_with("909") {
        NumberClass::Betaalnummers
    } else {
        NumberClass::VastNationaal
    })
}

/// 0900-8844 without its trunk prefix: the police's non-emergency number, at the local rate.
const POLITIE_GEEN_SPOED: &str = "9008844";

/// Is this (without separators) the alarm number 112: `112`, `+31112`, `0031112`, or `0112`
/// (112 behind the outside-line prefix some people still dial; `0112` is no Dutch number)?
pub fn is_alarm(dialled: &str) -> bool {
    matches!(dialled, "112" | "+31112" | "0031112" | "0112")
}

/// The class of a number that leaves through a trunk. Like [`classify`], but a short number is
/// a Dutch service number, never an extension: 112 alarm; 116xxx and 144 free; 14 + area code
/// (gemeente) national; 18xx and 118xx (directory enquiries) betaalnummers; any other short
/// number also betaalnummers, because its tariff is not known here and that class needs the
/// most careful permission. `None` for input that is no number.
pub fn classify_outside(dialled: &str) -> Option<NumberClass> {
    let class = classify(dialled)?;
    if class != NumberClass::Intern {
        return Some(class);
    }
    let s: String = dialled
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    Some(if s == "144" {
        NumberClass::Gratis
    } else {
        NumberClass::Betaalnummers
    })
}

/// The classes a user may call. [`NumberClass::Alarm`] is always in it: it cannot be removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct CallPermission(BTreeSet<NumberClass>);

impl CallPermission {
    /// Only internal numbers (and 112).
    pub fn intern() -> CallPermission {
        CallPermission::of(&[NumberClass::Intern])
    }

    /// Internal, national fixed, mobile and free numbers: the default for a new user.
    pub fn nationaal() -> CallPermission {
        CallPermission::of(&[
            NumberClass::Intern,
            NumberClass::VastNationaal,
            NumberClass::Mobiel,
            NumberClass::Gratis,
        ])
    }

    /// A set of classes; 112 is added.
    pub fn of(classes: &[NumberClass]) -> CallPermission {
        let mut set: BTreeSet<NumberClass> = classes.iter().copied().collect();
        set.insert(NumberClass::Alarm);
        CallPermission(set)
    }

    /// Parses `intern,mobiel,…` or a preset (`intern`, `nationaal`, `internationaal`, `alles`).
    pub fn parse(s: &str) -> Result<CallPermission, ModelError> {
        let parts: Vec<String> = s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        CallPermission::try_from(parts)
            .map_err(|bad| ModelError::invalid(Msg::new("permission.unknown").arg("value", bad)))
    }

    /// May a number of this class be called?
    pub fn allows(&self, class: NumberClass) -> bool {
        class == NumberClass::Alarm || self.0.contains(&class)
    }

    /// The classes, in interface order.
    pub fn classes(&self) -> impl Iterator<Item = NumberClass> + '_ {
        self.0.iter().copied()
    }
}

impl Default for CallPermission {
    fn default() -> CallPermission {
        CallPermission::nationaal()
    }
}

impl TryFrom<Vec<String>> for CallPermission {
    type Error = String;
    fn try_from(v: Vec<String>) -> Result<CallPermission, String> {
        let mut set = BTreeSet::new();
        for name in &v {
            match name.as_str() {
                "nationaal" => set.extend(CallPermission::nationaal().0),
                "alles" => set.extend(NumberClass::ALL),
                "internationaal" => {
                    set.extend(CallPermission::nationaal().0);
                    set.insert(NumberClass::Internationaal);
                }
                other => match NumberClass::parse(other) {
                    Some(c) => {
                        set.insert(c);
                    }
                    None => return Err(other.to_string()),
                },
            }
        }
        set.insert(NumberClass::Alarm);
        Ok(CallPermission(set))
    }
}

impl From<CallPermission> for Vec<String> {
    fn from(p: CallPermission) -> Vec<String> {
        p.0.into_iter()
            .filter(|c| *c != NumberClass::Alarm)
            .map(|c| c.as_str().to_string())
            .collect()
    }
}

impl fmt::Display for CallPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<String> = self.clone().into();
        f.write_str(&v.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        E164::normalise(s)
            .map(|e| e.to_string())
            .unwrap_or_else(|e| format!("ERR {}", e.msg.key()))
    }

    #[test]
    fn normalisation_of_dutch_formats() {
        assert_eq!(n("0201234567"), "+31201234567");
        assert_eq!(n("020-123 45 67"), "+31201234567");
        assert_eq!(n("06 12345678"), "+31612345678");
        assert_eq!(n("+31 (0)6 1234 5678"), "+31612345678");
        assert_eq!(n("+31612345678"), "+31612345678");
        assert_eq!(n("0031612345678"), "+31612345678");
        assert_eq!(n("0800-1234"), "+318001234");
        assert_eq!(n("08001234567"), "+318001234567");
        assert_eq!(n("0800123456"), "ERR number.national_length");
        assert_eq!(n("0909-1234"), "+319091234");
        assert_eq!(n("0900 1234567"), "+319001234567");
        assert_eq!(n("0044 20 7946 0958"), "+442079460958");
        assert_eq!(n("+1 (212) 555-0100"), "+12125550100");
        assert_eq!(n("112"), "ERR number.not_normalisable");
        assert_eq!(n("1001"), "ERR number.not_normalisable");
        assert_eq!(n("061234"), "ERR number.national_length");
        assert_eq!(n("+0123456789"), "ERR number.e164");
        assert_eq!(n("+3106123456789"), "ERR number.national_length");
        assert_eq!(
            E164::parse("+31201234567")
                .map(|e| e.national())
                .ok()
                .as_deref(),
            Some("0201234567")
        );
        assert_eq!(
            E164::parse("+442079460958")
                .map(|e| e.national())
                .ok()
                .as_deref(),
            Some("00442079460958")
        );
    }

    #[test]
    fn classes() {
        use NumberClass::*;
        let cases = [
            ("112", Some(Alarm)),
            ("1001", Some(Intern)),
            ("0201234567", Some(VastNationaal)),
            ("0851234567", Some(VastNationaal)),
            ("0612345678", Some(Mobiel)),
            ("+31612345678", Some(Mobiel)),
            ("0800123456", None),
            ("0800-1234", Some(Gratis)),
            ("0800 1234567", Some(Gratis)),
            ("0900 1234567", Some(Betaalnummers)),
            ("0906 1234567", Some(Betaalnummers)),
            ("0909 1234567", Some(Betaalnummers)),
            ("116123", Some(Gratis)),
            ("11888", Some(Betaalnummers)),
            ("14020", Some(VastNationaal)),
            ("0044207946095", Some(Internationaal)),
            ("+32 2 123 45 67", Some(Internationaal)),
            ("abc", None),
            ("0031112", Some(Alarm)),
            ("0112", Some(Alarm)),
            ("0900-8844", Some(VastNationaal)),
            ("0900-8845", Some(Betaalnummers)),
        ];
        for (num, want) in cases {
            assert_eq!(classify(num), want, "{num}");
        }
    }

    #[test]
    fn classes_of_numbers_that_go_out() {
        use NumberClass::*;
        let cases = [
            ("112", Some(Alarm)),
            ("+31112", Some(Alarm)),
            ("144", Some(Gratis)),
            ("116000", Some(Gratis)),
            ("14020", Some(VastNationaal)),
            ("140182", Some(VastNationaal)),
            ("1888", Some(Betaalnummers)),
            ("1850", Some(Betaalnummers)),
            ("11888", Some(Betaalnummers)),
            ("1233", Some(Betaalnummers)),
            ("*31#", Some(Betaalnummers)),
            ("0612345678", Some(Mobiel)),
            ("0201234567", Some(VastNationaal)),
            ("0800-1234", Some(Gratis)),
            ("0906 1234567", Some(Betaalnummers)),
            ("0044207946095", Some(Internationaal)),
            ("06", None),
            ("", None),
            ("1001a", None),
        ];
        for (num, want) in cases {
            assert_eq!(classify_outside(num), want, "{num}");
        }
    }

    #[test]
    fn alarm_cannot_be_switched_off() {
        let p = CallPermission::of(&[]);
        assert!(p.allows(NumberClass::Alarm));
        assert!(!p.allows(NumberClass::Intern));
        let v: Vec<String> = p.clone().into();
        let back = CallPermission::try_from(v).ok();
        assert_eq!(back, Some(p));
        assert!(CallPermission::parse("intern,mobiel").is_ok_and(|p| p.allows(NumberClass::Mobiel)));
        assert!(CallPermission::parse("alles").is_ok_and(|p| p.allows(NumberClass::Betaalnummers)));
        assert!(CallPermission::parse("nationaal")
            .is_ok_and(|p| !p.allows(NumberClass::Internationaal)));
        assert!(CallPermission::parse("intern,maan").is_err());
    }
}
