//! The quickstart example's command line, run as a user runs it: the binary built once (with
//! the cargo running the tests), then run with arguments, its exit code and output returned.

use std::path::PathBuf;
use std::process::Command;

/// The quickstart example, built once.
pub fn quickstart_binary() -> &'static PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "quickstart"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the quickstart example failed");
        // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/quickstart
        let mut path = std::env::current_exe().unwrap();
        path.pop();
        path.pop();
        path.push("examples");
        path.push(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
        assert!(path.exists(), "{} missing", path.display());
        path
    })
}

/// Runs the quickstart with `args`: its exit code, stdout and stderr.
pub fn run_quickstart(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(quickstart_binary())
        .args(args)
        .output()
        .expect("the quickstart runs");
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
