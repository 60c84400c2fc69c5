//! Prompts for announcements and the keuzemenu: WAV files read into 8 kHz mono samples, cached.
//!
//! A prompt is named either by the name of a shipped prompt (`niet-toegestaan` is
//! `<conf_dir>/prompts/niet-toegestaan.wav`) or by the path of an organisation's own file
//! (absolute, or relative to the configuration directory; it must end in `.wav`). Files are
//! read with [`pbx_media::wav`] (stereo mixed down, other rates resampled to 8 kHz), at most
//! [`MAX_FILE_BYTES`] and [`pbx_media::wav::MAX_SECONDS`] long. Each file is read once; the
//! samples are shared with every player that plays it.

use pbx_media::wav;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Largest prompt file read.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The prompts of one configuration directory.
pub(crate) struct Prompts {
    /// The configuration directory.
    dir: PathBuf,
    /// By name as asked for.
    cache: HashMap<String, Arc<[i16]>>,
}

impl Prompts {
    /// Prompts of the configuration directory `conf_dir` (shipped ones in `<conf_dir>/prompts`).
    pub(crate) fn new(conf_dir: &Path) -> Prompts {
        Prompts {
            dir: conf_dir.to_path_buf(),
            cache: HashMap::new(),
        }
    }

    /// The samples of a prompt, by name or path (see the module documentation). The error is a
    /// Dutch message that names the file.
    pub(crate) fn get(&mut self, name: &str) -> Result<Arc<[i16]>, String> {
        if let Some(s) = self.cache.get(name) {
            return Ok(s.clone());
        }
        let path = self.path(name)?;
        let embedded = SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
        let samples: Arc<[i16]> = match embedded {
            // A shipped prompt the configuration directory does not have (pbxd started with
            // another --config): the copy built into the binary.
            Some(bytes) if !path.exists() => decode(bytes, &format!("{name} (ingebouwd)"))?.into(),
            _ => load(&path)?.into(),
        };
        self.cache.insert(name.to_string(), samples.clone());
        Ok(samples)
    }

    /// The file a name stands for.
    fn path(&self, name: &str) -> Result<PathBuf, String> {
        if name.is_empty() {
            return Err("geen naam van een aankondiging opgegeven".to_string());
        }
        let is_path = name.contains('/') || name.contains('\\') || name.contains('.');
        if !is_path {
            // A shipped prompt: a plain name, so it cannot leave the prompts directory.
            let ok = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!("ongeldige naam van een aankondiging: '{name}'"));
            }
            return Ok(self.dir.join("prompts").join(format!("{name}.wav")));
        }
        let p = Path::new(name);
        let wav = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if !wav {
            return Err(format!(
                "aankondiging '{name}': alleen .wav-bestanden worden afgespeeld"
            ));
        }
        if p.is_absolute() {
            return Ok(p.to_path_buf());
        }
        // Relative to the configuration directory, and inside it.
        if p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "aankondiging '{name}': een relatief pad mag niet buiten de configuratiemap wijzen"
            ));
        }
        Ok(self.dir.join(p))
    }
}

/// Reads one WAV file into 8 kHz mono samples.
fn load(path: &Path) -> Result<Vec<i16>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| format!("aankondiging {shown} niet te openen: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("aankondiging {shown} niet te lezen: {e}"))?;
    if !meta.is_file() {
        return Err(format!("aankondiging {shown} is geen gewoon bestand"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "aankondiging {shown} is te groot ({} bytes, hoogstens {MAX_FILE_BYTES})",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("aankondiging {shown} niet te lezen: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "aankondiging {shown} is te groot (hoogstens {MAX_FILE_BYTES} bytes)"
        ));
    }
    decode(&bytes, &shown.to_string())
}

/// The shipped prompts (`scripts/prompts.sh`), built in as well: a configuration folder of its
/// own need not copy them. A file of the same name in `<conf>/prompts` takes precedence.
const SHIPPED: [(&str, &[u8]); 5] = [
    (
        "gesloten",
        include_bytes!("../../conf.d/prompts/gesloten.wav"),
    ),
    ("menu", include_bytes!("../../conf.d/prompts/menu.wav")),
    (
        "niet-beschikbaar",
        include_bytes!("../../conf.d/prompts/niet-beschikbaar.wav"),
    ),
    (
        "niet-toegestaan",
        include_bytes!("../../conf.d/prompts/niet-toegestaan.wav"),
    ),
    (
        "ongeldige-keuze",
        include_bytes!("../../conf.d/prompts/ongeldige-keuze.wav"),
    ),
];

/// Decodes WAV bytes into 8 kHz mono samples; `shown` names the file in errors.
fn decode(bytes: &[u8], shown: &str) -> Result<Vec<i16>, String> {
    let audio = wav::parse(bytes).map_err(|e| {
        let why = match e {
            wav::WavError::TooLong => {
                format!("langer dan {} minuten", wav::MAX_SECONDS / 60)
            }
            wav::WavError::UnsupportedRate(r) => format!(
                "samplefrequentie {r} Hz niet ondersteund (8000, 16000, 22050, 44100 of 48000)"
            ),
            wav::WavError::UnsupportedChannels(c) => {
                format!("{c} kanalen, alleen mono en stereo")
            }
            wav::WavError::UnsupportedBits(b) => {
                format!("{b} bits per sample, alleen 16-bits PCM")
            }
            wav::WavError::NotPcm(_) => "geen PCM (alleen 16-bits PCM)".to_string(),
            _ => "geen geldig WAV-bestand".to_string(),
        };
        format!("aankondiging {shown} niet bruikbaar: {why}")
    })?;
    if audio.samples.is_empty() {
        return Err(format!("aankondiging {shown} bevat geen geluid"));
    }
    Ok(audio.samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf_d() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf.d")
    }

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pbxd-prompts-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(d.join("prompts")).unwrap_or_else(|_| unreachable!());
        d
    }

    #[test]
    fn loads_the_shipped_menu_prompt_once() {
        let mut p = Prompts::new(&conf_d());
        let menu = p.get("menu").unwrap_or_else(|e| unreachable!("{e}"));
        // Seconds of speech at 8 kHz, not silence.
        assert!(menu.len() > 8000, "{}", menu.len());
        assert!(menu.iter().any(|&s| s.unsigned_abs() > 1000));
        let again = p.get("menu").unwrap_or_else(|e| unreachable!("{e}"));
        assert!(Arc::ptr_eq(&menu, &again));
        for name in [
            "niet-beschikbaar",
            "niet-toegestaan",
            "gesloten",
            "ongeldige-keuze",
        ] {
            assert!(p.get(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn resamples_an_organisations_own_stereo_file() {
        let dir = temp_dir();
        // One second of a 440 Hz tone at 16 kHz, stereo (left and right equal).
        let mut samples = Vec::new();
        for i in 0..16_000 {
            let v = (f64::sin(i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 16_000.0) * 10_000.0)
                as i16;
            samples.extend([v, v]);
        }
        std::fs::write(dir.join("welkom.wav"), wav::write(&samples, 16_000, 2))
            .unwrap_or_else(|_| unreachable!());
        let mut p = Prompts::new(&dir);
        let rel = p.get("welkom.wav").unwrap_or_else(|e| unreachable!("{e}"));
        assert!((7990..=8010).contains(&rel.len()), "{}", rel.len());
        let peak = rel.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((9000..=11_000).contains(&peak), "{peak}");
        let abs = dir.join("welkom.wav");
        let abs = p
            .get(abs.to_str().unwrap_or_default())
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(abs.len(), rel.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_escapes_other_files_and_garbage() {
        let dir = temp_dir();
        std::fs::write(dir.join("prompts/kapot.wav"), b"geen wav")
            .unwrap_or_else(|_| unreachable!());
        std::fs::write(dir.join("tekst.txt"), b"hallo").unwrap_or_else(|_| unreachable!());
        let mut p = Prompts::new(&dir);
        for name in [
            "../etc/passwd",
            "../../etc/passwd.wav",
            "/etc/passwd",
            "tekst.txt",
            "",
        ] {
            let e = p.get(name).err().unwrap_or_else(|| unreachable!("{name}"));
            assert!(!e.is_empty());
        }
        let e = p.get("../etc/passwd").err().unwrap_or_default();
        assert!(e.contains("../etc/passwd"), "{e}");
        let e = p.get("kapot").err().unwrap_or_default();
        assert!(
            e.contains("kapot.wav") && e.contains("geen geldig WAV"),
            "{e}"
        );
        let e = p.get("bestaat-niet").err().unwrap_or_default();
        assert!(e.contains("bestaat-niet.wav"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod shipped_tests {
    use super::*;

    #[test]
    fn shipped_prompts_are_built_in_for_a_folder_without_them() {
        let dir =
            std::env::temp_dir().join(format!("pbxd-noprompts-{:016x}", rand::random::<u64>()));
        let mut p = Prompts::new(&dir);
        for (name, _) in SHIPPED {
            let s = p.get(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.len() > 8000, "{name}: at least a second of audio");
        }
        assert!(p.get("bestaat-niet").is_err());
    }
}
