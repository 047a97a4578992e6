//! The doctor's report: one line per check, graded, with the fix in words, and a summary.

use std::fmt;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    /// As it should be.
    Pass,
    /// Works, but a client or a specification may stumble on it (fails with `strict`).
    Warn,
    /// Clients cannot authorize, or the server refuses what they get.
    Fail,
    /// Could not be checked (something it needs failed, or nothing to check).
    Skip,
}

impl Grade {
    /// The word the report prints.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Skip => "skip",
        }
    }
}

/// One check's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// How it went.
    pub grade: Grade,
    /// The check's name, the same on every run.
    pub name: String,
    /// What was found.
    pub detail: String,
    /// For a warning or a failure: what to change, in words.
    pub fix: Option<String>,
}

/// Every check's line, in the order they ran, and how the doctor should exit.
#[derive(Debug, Clone, Default)]
pub struct Report {
    lines: Vec<Line>,
    strict: bool,
}

impl Report {
    pub(crate) fn new(strict: bool) -> Self {
        Self {
            lines: Vec::new(),
            strict,
        }
    }

    /// Adds a line.
    pub(crate) fn add(
        &mut self,
        grade: Grade,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.lines.push(Line {
            grade,
            name: name.into(),
            detail: detail.into(),
            fix,
        });
    }

    pub(crate) fn pass(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.add(Grade::Pass, name, detail, None);
    }

    pub(crate) fn warn(
        &mut self,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.add(Grade::Warn, name, detail, Some(fix.into()));
    }

    pub(crate) fn fail(
        &mut self,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.add(Grade::Fail, name, detail, Some(fix.into()));
    }

    pub(crate) fn skip(&mut self, name: impl Into<String>, why: impl Into<String>) {
        self.add(Grade::Skip, name, why, None);
    }

    /// Every line, in order.
    #[must_use]
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The line of the check named `name` (the first, if it ran more than once).
    #[must_use]
    pub fn line(&self, name: &str) -> Option<&Line> {
        self.lines.iter().find(|line| line.name == name)
    }

    /// The grade of the check named `name`.
    #[must_use]
    pub fn grade(&self, name: &str) -> Option<Grade> {
        self.line(name).map(|line| line.grade)
    }

    /// How many lines have this grade.
    #[must_use]
    pub fn count(&self, grade: Grade) -> usize {
        self.lines.iter().filter(|line| line.grade == grade).count()
    }

    /// 1 on any failure (and, with `strict`, on any warning), else 0.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        let failed = self.count(Grade::Fail) > 0 || (self.strict && self.count(Grade::Warn) > 0);
        u8::from(failed)
    }
}

impl fmt::Display for Report {
    /// One line per check (`grade  name  detail`, then `fix: …` for a warning or a failure),
    /// and a summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .lines
            .iter()
            .map(|line| line.name.chars().count())
            .max()
            .unwrap_or(0);
        for line in &self.lines {
            write!(
                f,
                "{}  {:width$}  {}",
                line.grade.word(),
                line.name,
                line.detail
            )?;
            if let Some(fix) = &line.fix {
                write!(f, " — fix: {fix}")?;
            }
            writeln!(f)?;
        }
        let strict = if self.strict { " (strict)" } else { "" };
        writeln!(
            f,
            "summary: {} pass, {} warn, {} fail, {} skip; exit {}{strict}",
            self.count(Grade::Pass),
            self.count(Grade::Warn),
            self.count(Grade::Fail),
            self.count(Grade::Skip),
            self.exit_code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_exit_1_and_warnings_only_when_strict() {
        let mut report = Report::new(false);
        report.pass("a", "fine");
        report.warn("b", "meh", "do x");
        assert_eq!(report.exit_code(), 0);
        let mut strict = Report::new(true);
        strict.warn("b", "meh", "do x");
        assert_eq!(strict.exit_code(), 1);
        report.fail("c", "broken", "do y");
        assert_eq!(report.exit_code(), 1);
        let text = report.to_string();
        assert!(text.contains("fail  c  broken — fix: do y"), "{text}");
        assert!(
            text.ends_with("summary: 1 pass, 1 warn, 1 fail, 0 skip; exit 1\n"),
            "{text}"
        );
    }
}
