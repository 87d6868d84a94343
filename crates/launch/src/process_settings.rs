//! What the process-based launchers add to every worker process they start: environment
//! variables and a working directory.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The environment entries and working directory given to a process launcher's builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessSettings {
    /// Environment variables, on top of the server's environment, in the order given.
    pub(crate) env: Vec<(OsString, OsString)>,
    /// The working directory, or None for the server's.
    pub(crate) current_dir: Option<PathBuf>,
}

impl ProcessSettings {
    /// Sets the environment variables and the working directory of `command`.
    pub(crate) fn apply(&self, command: &mut Command) {
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
    }
}

/// The builder methods `env` and `current_dir` of a launcher with a `settings` field, whose
/// workers are called `$worker` in their docs.
macro_rules! settings_builder {
    ($launcher:ty, $worker:literal) => {
        impl $launcher {
            #[doc = concat!("Adds an environment variable for every ", $worker, ".")]
            #[must_use]
            pub fn env(
                mut self,
                key: impl Into<std::ffi::OsString>,
                value: impl Into<std::ffi::OsString>,
            ) -> Self {
                self.settings.env.push((key.into(), value.into()));
                self
            }

            #[doc = concat!(
                "Runs every ", $worker, " in `dir` instead of the server's working directory."
            )]
            #[must_use]
            pub fn current_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
                self.settings.current_dir = Some(dir.into());
                self
            }
        }
    };
}

pub(crate) use settings_builder;
