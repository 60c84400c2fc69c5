//! Every file shipped in `conf.d/` loads without errors and without warnings.

use pbx_i18n::Lang;
use std::path::{Path, PathBuf};

fn conf_d() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf.d")
}

#[test]
fn shipped_conf_d_is_clean() {
    let dir = conf_d();
    let (loaded, report) = pbx_config::load(&dir);
    let lines = report.render(Lang::Nl, &dir).join("\n");
    assert_eq!((report.errors(), report.warnings()), (0, 0), "{lines}");
    let Some(cfg) = loaded else {
        panic!("geen configuratie: {lines}")
    };
    assert_eq!(cfg.daemon.default_tenant.as_deref(), Some("demo"));
    assert_eq!(cfg.daemon.listen.len(), 3);
    assert!(cfg.daemon.control.socket.ends_with("state/control.sock"));
    assert!(!cfg.daemon.control.socket.to_string_lossy().contains(".."));
    assert_eq!(cfg.tenants.len(), 1);
    let demo = &cfg.tenants[0].bundle;
    assert_eq!(demo.tenant.slug, "demo");
    assert_eq!(demo.extensions.len(), 2);
    assert_eq!(demo.belplan.rules.len(), 4);
    assert_eq!(demo.belplan.menus.len(), 1);
    assert_eq!(demo.belplan.menus[0].choices.len(), 2);
    assert_eq!(demo.ring_groups.len(), 1);
}

#[test]
fn every_shipped_file_passes_on_its_own() {
    let mut files = vec![conf_d().join("pbxd.toml")];
    for e in std::fs::read_dir(conf_d().join("tenants"))
        .into_iter()
        .flatten()
        .flatten()
    {
        files.push(e.path());
    }
    for f in files {
        let report = pbx_config::check_paths(std::slice::from_ref(&f));
        assert!(
            report.is_ok(true),
            "{}: {}",
            f.display(),
            report.render(Lang::Nl, &conf_d()).join("\n")
        );
    }
}
