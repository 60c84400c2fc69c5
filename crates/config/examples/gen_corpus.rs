//! Writes a configuration folder with N organisations × M extensions (plain SIP passwords, files
//! in mode 0600), for measuring `pbxctl check` and pbxd's start-up on a large set.
//!
//! Usage: `cargo run --release -p pbx-config --example gen_corpus -- OUT_DIR 100 100`

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

/// A strong, reproducible password: 20 characters from an alphabet without digits, so it never
/// contains the extension number.
fn password(seed: u64) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz-_.";
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut s = String::with_capacity(22);
    for _ in 0..20 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51afd7ed558ccd);
        x ^= x >> 29;
        s.push(CHARS[(x % CHARS.len() as u64) as usize] as char);
    }
    s.push_str("#7");
    s
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn tenant(n: usize, extensions: usize) -> String {
    let slug = format!("org{n:04}");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "[tenant]\nslug = \"{slug}\"\nname = \"Organisatie {n}\"\ndomains = [\"{slug}.example\"]"
    );
    let _ = writeln!(
        t,
        "limits = {{ max_extensions = {}, max_calls = 100, max_outside_calls = 50 }}\n",
        extensions.max(50)
    );
    let _ = writeln!(
        t,
        "[[user]]\nusername = \"beheer\"\nname = \"Beheer\"\nrole = \"organisatiebeheerder\"\n"
    );
    let _ = writeln!(
        t,
        "[[user]]\nusername = \"agent1\"\nname = \"Agent Een\"\nrole = \"agent\"\n"
    );
    for e in 0..extensions {
        let number = 1000 + e;
        let _ = writeln!(
            t,
            "[[extension]]\nnumber = \"{number}\"\nname = \"Toestel {number}\"\npassword = \"{}\"\n",
            password((n as u64) << 32 | e as u64)
        );
    }
    let _ = writeln!(
        t,
        "[[trunk]]\nname = \"provider\"\nhost = \"sip.provider.example\"\nusername = \"{slug}\"\nsecret = \"{}\"\ndids = [\"+3120{:07}\"]\n",
        password(u64::MAX - n as u64),
        n
    );
    let _ = writeln!(
        t,
        "[[queue]]\nnumber = \"500\"\nname = \"Verkoop\"\nmembers = [{{ user = \"agent1\" }}]\n"
    );
    let _ = writeln!(t, "[[schedule]]\nname = \"kantoor\"\nopen = [{{ days = [\"ma\", \"di\", \"wo\", \"do\", \"vr\"], from = \"08:30\", to = \"17:30\" }}]\n");
    let _ = writeln!(t, "[[rule]]\nmatch = {{ did = \"+3120{n:07}\", schedule = \"kantoor\" }}\naction = {{ queue = \"500\" }}\n");
    let _ = writeln!(
        t,
        "[[rule]]\nmatch = {{ did = \"+3120{n:07}\" }}\naction = {{ extension = \"1000\" }}\n"
    );
    let _ = writeln!(t, "[[rule]]\nmatch = {{ pattern = \"_0[1-9]XXXXXXXX\" }}\naction = {{ trunks = [\"provider\"] }}");
    t
}

fn run(out: &Path, orgs: usize, extensions: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(out.join("tenants"))?;
    std::fs::write(
        out.join("pbxd.toml"),
        "[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n\n[rtp]\nport_min = 20000\nport_max = 29999\n\n[state]\ndir = \"state\"\n\n[log]\ndir = \"state/log\"\n",
    )?;
    for n in 0..orgs {
        write_private(
            &out.join(format!("tenants/org{n:04}.toml")),
            &tenant(n, extensions),
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match &args[..] {
        [dir, n, m] => n
            .parse::<usize>()
            .ok()
            .zip(m.parse::<usize>().ok())
            .map(|(n, m)| (dir, n, m)),
        _ => None,
    };
    let Some((dir, orgs, extensions)) = parsed.filter(|(_, _, m)| *m <= 8_000) else {
        eprintln!(
            "gebruik: gen_corpus UITVOERMAP ORGANISATIES EXTENSIES_PER_ORGANISATIE (max. 8000)"
        );
        return ExitCode::from(64);
    };
    match run(Path::new(dir), orgs, extensions) {
        Ok(()) => {
            println!("{orgs} organisaties × {extensions} extensies geschreven in {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fout: {dir}: {e}");
            ExitCode::from(73)
        }
    }
}
