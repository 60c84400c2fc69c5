//! The ladder of a call trace as text, sngrep-style, for pbxctl and pbxtop.

use crate::TraceMessage;

/// The ladder of a trace as text, sngrep-style: one column per address, one arrow per message.
pub fn ladder(entries: &[TraceMessage]) -> String {
    let mut hosts: Vec<&str> = Vec::new();
    for e in entries {
        for h in [e.src.as_str(), e.dst.as_str()] {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    const W: usize = 26;
    let col = |h: &str| hosts.iter().position(|x| *x == h).unwrap_or(0);
    let mut out = String::new();
    let mut head = String::from("             ");
    for h in &hosts {
        let h: String = h.chars().take(W - 2).collect();
        head.push_str(&format!("{h:<W$}"));
    }
    out.push_str(head.trim_end());
    out.push('\n');
    let t0 = entries.first().map(|e| e.time_ms).unwrap_or(0);
    for e in entries {
        let (a, b) = (col(&e.src), col(&e.dst));
        let (lo, hi) = (a.min(b), a.max(b));
        let label: String = short_label(e.text.lines().next().unwrap_or(""))
            .chars()
            .take(W * (hi - lo).max(1) - 4)
            .collect();
        let mut line = format!(
            "{:>+9.3}s   ",
            (e.time_ms.saturating_sub(t0)) as f64 / 1000.0
        );
        line.push_str(&" ".repeat(lo * W));
        let span = (hi - lo).max(1) * W;
        let body_len = span.saturating_sub(2);
        let mut arrow: Vec<char> = "─".repeat(body_len).chars().collect();
        let lab: Vec<char> = label.chars().collect();
        let start = (body_len.saturating_sub(lab.len())) / 2;
        for (i, c) in lab.iter().enumerate() {
            if let Some(slot) = arrow.get_mut(start + i) {
                *slot = *c;
            }
        }
        let arrow: String = arrow.into_iter().collect();
        if a <= b {
            line.push_str(&format!("│{arrow}▶"));
        } else {
            line.push_str(&format!("◀{arrow}│"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `INVITE sip:1002@acme SIP/2.0` → `INVITE`; `SIP/2.0 180 Ringing` → `180 Ringing`.
fn short_label(first: &str) -> String {
    match first.strip_prefix("SIP/2.0 ") {
        Some(status) => status.to_string(),
        None => first.split(' ').next().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t: u64, src: &str, dst: &str, text: &str) -> TraceMessage {
        TraceMessage {
            time_ms: t,
            way: "in".into(),
            transport: "udp".into(),
            src: src.into(),
            dst: dst.into(),
            text: text.into(),
        }
    }

    #[test]
    fn ladder_draws_arrows_between_columns() {
        let m = [
            e(0, "10.0.0.1:5060", "pbxd", "INVITE sip:1002@acme SIP/2.0"),
            e(
                5,
                "pbxd",
                "10.0.0.2:5060",
                "INVITE sip:1002@10.0.0.2 SIP/2.0",
            ),
            e(900, "10.0.0.2:5060", "pbxd", "SIP/2.0 180 Ringing"),
        ];
        let text = ladder(&m);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].contains("10.0.0.1:5060")
                && lines[0].contains("pbxd")
                && lines[0].contains("10.0.0.2:5060")
        );
        assert!(
            lines[1].contains("INVITE") && lines[1].ends_with('▶'),
            "{text}"
        );
        assert!(
            lines[3].contains("180 Ringing")
                && lines[3].contains('◀')
                && lines[3].contains("+0.900s"),
            "{text}"
        );
    }
}
