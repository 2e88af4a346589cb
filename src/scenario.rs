//! Scenario files (`scenarios/*.toml`): one experiment per file, every hyperparameter with a
//! default that works, unknown keys refused with their line, `--set key=value` overrides.

use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::data::DatasetName;
use crate::models::classifier::config::ClassifierConfigError;
use crate::models::gan::config::{GanConfig, GanConfigError};
use crate::models::rl::config::{ConfigError as RlConfigError, RlConfig};

/// Why a scenario cannot be used; every variant names the file, line or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The scenario file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The path is a folder, a device or a pipe, not a scenario file.
    #[error("{}: not a scenario file (a folder, device or pipe)", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// The file is far larger than any scenario.
    #[error("{}: larger than {} KiB, too large to be a scenario", path.display(), MAX_SCENARIO_BYTES / 1024)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The TOML is malformed or has an unknown key or a wrongly typed value (the message
    /// carries the line and column).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// toml's message, with line, column and the offending key.
        message: String,
    },
    /// `kind` is missing or not one of the known kinds.
    #[error("{}: `kind` must be \"classifier\", \"gan\" or \"rl\"{}", path.display(), found.as_ref().map(|f| format!(", found {f:?}")).unwrap_or_default())]
    Kind {
        /// The scenario file.
        path: PathBuf,
        /// What was there instead, if anything.
        found: Option<String>,
    },
    /// A `--set` names a key the scenario does not have.
    #[error("--set {key}: unknown key for a {kind} scenario (keys: {known})")]
    UnknownSetKey {
        /// The key given.
        key: String,
        /// The scenario kind.
        kind: &'static str,
        /// The valid keys.
        known: String,
    },
    /// A `--set` names a key of the RL agent the scenario does not train.
    #[error(
        "--set {key}: this scenario trains the {agent} agent, and {key} belongs to the other one"
    )]
    OtherAgentKey {
        /// The key given.
        key: String,
        /// The agent the scenario trains.
        agent: &'static str,
    },
    /// A `--set` tries to change the kind, which decides every other key.
    #[error(
        "--set kind: the kind is the scenario's own ({kind}); to train another kind, start one \
         of its scenarios (scenarios/*.toml)"
    )]
    KindSet {
        /// The scenario's kind.
        kind: &'static str,
    },
    /// A `--set` is not of the form key=value.
    #[error("--set {0:?}: expected key=value")]
    SetSyntax(String),
    /// A value in the file is of the right type but out of range (lr ≤ 0, batch 0, a size
    /// that would take gigabytes, …).
    #[error("{}:{line}: {key} = {value}: {reason}", path.display())]
    InFile {
        /// The scenario file.
        path: PathBuf,
        /// The line that sets the key.
        line: usize,
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A described layer that cannot follow the one before it (or takes a value it cannot).
    #[error("{message}")]
    Layer {
        /// Position in `layers`, from 0.
        index: usize,
        /// The layer, its index and the shapes involved.
        message: String,
    },
    /// [`ScenarioError::Layer`] with the line of the file that describes the layer.
    #[error("{}:{line}: {message}", path.display())]
    LayerInFile {
        /// The scenario file.
        path: PathBuf,
        /// The line where the layer's description starts.
        line: usize,
        /// The layer, its index and the shapes involved.
        message: String,
    },
    /// A value is of the right type but out of range (lr ≤ 0, batch 0, …).
    #[error("{key} = {value}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
}

pub use crate::models::classifier::config::{ClassifierConfig, ModelKind};

impl From<ClassifierConfigError> for ScenarioError {
    fn from(e: ClassifierConfigError) -> Self {
        match e {
            ClassifierConfigError::Invalid { key, value, reason } => {
                ScenarioError::Invalid { key, value, reason }
            }
            ClassifierConfigError::Layer { index, message } => {
                ScenarioError::Layer { index, message }
            }
        }
    }
}

impl From<GanConfigError> for ScenarioError {
    fn from(e: GanConfigError) -> Self {
        match e {
            GanConfigError::Invalid {
                key,
                value,
                expected,
            } => ScenarioError::Invalid {
                key: key.to_string(),
                value,
                reason: format!("expected {expected}"),
            },
            // Only live changes can need a restart or name an unknown key; a file never does,
            // but the message still says what is wrong.
            other => ScenarioError::Invalid {
                key: String::new(),
                value: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

impl From<RlConfigError> for ScenarioError {
    fn from(e: RlConfigError) -> Self {
        let RlConfigError::Invalid { key, value, reason } = e;
        ScenarioError::Invalid { key, value, reason }
    }
}

/// A scenario's settings, by kind.
// One value per run, built once at start-up: the size difference between kinds costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Settings {
    /// An image classifier.
    Classifier(ClassifierConfig),
    /// A generative adversarial network.
    Gan(GanConfig),
    /// A reinforcement-learning agent.
    Rl(RlConfig),
}

/// The kinds of training gradtop runs: the scenario's `kind = "…"`, and the key by which the
/// CLI, the dashboard, resume and the Runs tab pick what to do with a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// An image classifier.
    Classifier,
    /// A generative adversarial network.
    Gan,
    /// A reinforcement-learning agent.
    Rl,
}

impl JobKind {
    /// Every kind, in tab order.
    pub const ALL: [JobKind; 3] = [JobKind::Classifier, JobKind::Gan, JobKind::Rl];

    /// The kind as written in scenario files, `config.toml` and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Classifier => "classifier",
            JobKind::Gan => "gan",
            JobKind::Rl => "rl",
        }
    }

    /// The kind a file names; `None` for an unknown word.
    pub fn from_name(name: &str) -> Option<JobKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// What one step of this kind is called in messages: a resumed run "continues at
    /// iteration 500", not "at step 500", for a GAN.
    pub fn step_unit(self) -> &'static str {
        match self {
            JobKind::Classifier => "step",
            JobKind::Gan => "iteration",
            JobKind::Rl => "env step",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Settings {
    /// Which kind of job these settings configure.
    pub fn kind(&self) -> JobKind {
        match self {
            Settings::Classifier(_) => JobKind::Classifier,
            Settings::Gan(_) => JobKind::Gan,
            Settings::Rl(_) => JobKind::Rl,
        }
    }

    /// The dataset the job reads, if its kind reads one.
    pub fn dataset(&self) -> Option<DatasetName> {
        match self {
            Settings::Classifier(c) => Some(c.dataset),
            Settings::Gan(c) => Some(c.dataset),
            Settings::Rl(_) => None,
        }
    }

    /// How many checkpoints the run keeps.
    pub fn keep_checkpoints(&self) -> usize {
        match self {
            Settings::Classifier(c) => c.keep_checkpoints,
            Settings::Gan(c) => c.keep_checkpoints,
            Settings::Rl(c) => c.keep_checkpoints,
        }
    }

    /// The settings as a TOML table, for `config.toml` in the run directory.
    pub fn to_table(&self) -> toml::Table {
        let mut table = match self {
            Settings::Classifier(c) => to_table(c),
            Settings::Gan(c) => to_table(c),
            Settings::Rl(c) => to_table(&c.resolved().unwrap_or_else(|_| c.clone())),
        };
        table.insert(
            "kind".into(),
            toml::Value::String(self.kind().as_str().into()),
        );
        table
    }
}

/// The name of a run of scenario `base`, whose name says it trains on `named`, when it trains on
/// `dataset`: the scenario's own name, or with the dataset appended when it was switched (a
/// `--set`, the dashboard's `data` row), so a folder says what it holds (`mnist-cnn-fashion`).
pub fn run_name(base: &str, named: DatasetName, dataset: DatasetName) -> String {
    // A base that a switch already named (`mnist-cnn-digits` from `--set dataset=digits`) loses
    // that dataset first, so switching again replaces it instead of appending a second one.
    let stem = DatasetName::ALL
        .iter()
        .filter(|&&d| d != named)
        .find_map(|d| base.strip_suffix(&format!("-{}", d.short())))
        .unwrap_or(base);
    if named == dataset {
        stem.to_string()
    } else {
        format!("{stem}-{}", dataset.short())
    }
}

/// A loaded, validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file stem (with the dataset when a `--set` switched it), used in run directory
    /// names and summaries.
    pub name: String,
    /// The settings.
    pub settings: Settings,
}

fn to_table<T: Serialize>(value: &T) -> toml::Table {
    toml::Table::try_from(value).expect("scenario configs serialise to a TOML table")
}

#[derive(Deserialize)]
struct KindOnly {
    kind: Option<toml::Spanned<String>>,
}

/// Blanks out the line holding `kind = …` (keeping byte offsets and line numbers), so the rest
/// can be parsed by a strict, kind-specific struct whose errors still point at the right line.
fn without_kind_line(text: &str, span: std::ops::Range<usize>) -> String {
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.extend(text[start..end].chars().map(|_| ' '));
    out.push_str(&text[end..]);
    out
}

fn parse_strict<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ScenarioError> {
    toml::from_str(text).map_err(|e| ScenarioError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// The first layer of a `layers` list that does not parse, named with its index, type and line:
/// toml reports such an error at the `layers = [` line, which leaves the user to search.
fn layer_parse_error(path: &Path, text: &str) -> Option<ScenarioError> {
    use crate::models::classifier::spec::LayerSpec;
    let table: toml::Table = toml::from_str(text).ok()?;
    let layers = table.get("layers")?.as_array()?;
    layers.iter().enumerate().find_map(|(index, layer)| {
        let err = LayerSpec::deserialize(layer.clone()).err()?;
        let kind = layer
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("no type");
        let message = format!("layers[{index}] ({kind}): {}", err.message().trim_end());
        Some(match line_of_layer(text, index) {
            Some(line) => ScenarioError::LayerInFile {
                path: path.to_path_buf(),
                line,
                message,
            },
            None => ScenarioError::Layer { index, message },
        })
    })
}

/// Parses scenario text; `path` is used for messages and the name.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let kind: KindOnly = parse_strict(path, text)?;
    let Some(kind) = kind.kind else {
        return Err(ScenarioError::Kind {
            path: path.to_path_buf(),
            found: None,
        });
    };
    let rest = without_kind_line(text, kind.span());
    let settings = match JobKind::from_name(kind.get_ref()) {
        Some(JobKind::Classifier) => {
            let mut config: ClassifierConfig = parse_strict(path, &rest)
                .map_err(|e| layer_parse_error(path, &rest).unwrap_or(e))?;
            config.resolve_paths();
            Settings::Classifier(config)
        }
        Some(JobKind::Gan) => Settings::Gan(parse_strict(path, &rest)?),
        Some(JobKind::Rl) => Settings::Rl(parse_strict(path, &rest)?),
        None => {
            return Err(ScenarioError::Kind {
                path: path.to_path_buf(),
                found: Some(kind.get_ref().clone()),
            })
        }
    };
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_string();
    Ok(Scenario { name, settings })
}

/// The largest scenario file read: a scenario is a few KB, so anything bigger is not one (and a
/// device such as `/dev/zero` is never read to the end).
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Reads and parses a scenario file; refuses anything that is not a regular file of at most
/// [`MAX_SCENARIO_BYTES`].
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(path, &read_text(path)?)
}

/// Reads a scenario file, applies `--set` overrides and validates the result; a value out of
/// range in the file is named with its line, one from a `--set` with the `--set`.
pub fn load_with_overrides(path: &Path, sets: &[String]) -> Result<Scenario, ScenarioError> {
    let text = read_text(path)?;
    parse(path, &text)?
        .with_overrides(sets)
        .map_err(|e| locate(e, path, &text, sets))
}

/// Puts the file's line on a range error whose key the file sets (and no `--set` overrides).
fn locate(e: ScenarioError, path: &Path, text: &str, sets: &[String]) -> ScenarioError {
    if let ScenarioError::Layer { index, message } = e {
        return match line_of_layer(text, index) {
            Some(line) => ScenarioError::LayerInFile {
                path: path.to_path_buf(),
                line,
                message,
            },
            None => ScenarioError::Layer { index, message },
        };
    }
    let ScenarioError::Invalid { key, value, reason } = e else {
        return e;
    };
    let from_set = sets
        .iter()
        .any(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key));
    match line_of_key(text, &key).filter(|_| !from_set) {
        Some(line) => ScenarioError::InFile {
            path: path.to_path_buf(),
            line,
            key,
            value,
            reason,
        },
        None => ScenarioError::Invalid { key, value, reason },
    }
}

/// The line (counted from 1) of TOML `text` that sets the dotted `key` (`batch_size`,
/// `dqn.hidden`), under a `[table]` header or as a dotted key; `None` when the file leaves it to
/// its default.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    let dotted = |s: &str| s.split('.').map(unquote).collect::<Vec<_>>().join(".");
    let mut table = String::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or_default();
            table = dotted(header);
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if name.trim_start().starts_with('#') {
            continue;
        }
        let name = dotted(name);
        let full = if table.is_empty() {
            name
        } else {
            format!("{table}.{name}")
        };
        if full == key {
            return Some(number + 1);
        }
    }
    None
}

/// The line (counted from 1) where layer `index` (from 0) of a `layers` list starts: its
/// `[[layers]]` header, or the `{` that opens its inline table in `layers = [ … ]`.
pub fn line_of_layer(text: &str, index: usize) -> Option<usize> {
    let headers: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[layers]]")
        .map(|(n, _)| n + 1)
        .collect();
    if !headers.is_empty() {
        return headers.get(index).copied();
    }
    let start = line_of_key(text, "layers")?;
    let mut depth = 0usize;
    let mut found = 0usize;
    for (number, line) in text.lines().enumerate().skip(start - 1) {
        let mut in_string = false;
        // The array opens on the `layers =` line: skip what precedes its `[`.
        let body = if number + 1 == start {
            line.split_once('[').map_or("", |(_, rest)| rest)
        } else {
            line
        };
        for ch in body.chars() {
            match ch {
                '"' => in_string = !in_string,
                '#' if !in_string => break,
                '{' if !in_string => {
                    if depth == 0 {
                        if found == index {
                            return Some(number + 1);
                        }
                        found += 1;
                    }
                    depth += 1;
                }
                '}' if !in_string => depth = depth.saturating_sub(1),
                ']' if !in_string && depth == 0 => return None,
                _ => {}
            }
        }
    }
    None
}

/// The text of a scenario file, read with a cap: see [`load`].
fn read_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let io = |source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(ScenarioError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SCENARIO_BYTES + 1).read_to_string(&mut text))
        .map_err(io)?;
    if text.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// Applies one `key=value` override to a config, through its TOML form so that types are
/// checked exactly as in a file.
fn apply_set<T: Serialize + DeserializeOwned>(
    config: &T,
    kind: &'static str,
    assignment: &str,
) -> Result<T, ScenarioError> {
    let (key, raw) = assignment
        .split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| ScenarioError::SetSyntax(assignment.to_string()))?;
    let mut table = to_table(config);
    // A bare word such as `mlp` is a string; anything TOML can parse keeps its type.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    // `dqn.lr=…` reaches into the `[dqn]` table.
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().unwrap_or(key);
    let mut target = &mut table;
    for part in parts {
        target = target
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| ScenarioError::UnknownSetKey {
                key: key.to_string(),
                kind,
                known: format!("{part} is a value, not a table"),
            })?;
    }
    target.insert(leaf.to_string(), value);
    // Unknown keys (also optional and nested ones) are caught by the configs' own
    // `deny_unknown_fields`, whose message lists the valid keys.
    table.try_into().map_err(|e: toml::de::Error| {
        let reason = e.message().trim_end().to_string();
        if reason.starts_with("unknown field") {
            ScenarioError::UnknownSetKey {
                key: key.to_string(),
                kind,
                known: reason,
            }
        } else {
            ScenarioError::Invalid {
                key: key.to_string(),
                value: raw.to_string(),
                reason,
            }
        }
    })
}

impl Scenario {
    /// Applies `--set key=value` overrides in order, then validates the result.
    pub fn with_overrides(mut self, sets: &[String]) -> Result<Self, ScenarioError> {
        let named_dataset = self.settings.dataset();
        for set in sets {
            if set.split_once('=').is_some_and(|(k, _)| k.trim() == "kind") {
                return Err(ScenarioError::KindSet {
                    kind: self.settings.kind().as_str(),
                });
            }
            self.settings = match &self.settings {
                Settings::Classifier(c) => {
                    let mut config: ClassifierConfig = apply_set(c, "classifier", set)?;
                    config.resolve_paths();
                    Settings::Classifier(config)
                }
                Settings::Gan(c) => Settings::Gan(apply_set(c, "gan", set)?),
                Settings::Rl(c) => Settings::Rl(apply_set(c, "rl", set)?),
            };
        }
        if let Settings::Rl(config) = &self.settings {
            // `[dqn]` and `[ppo]` both parse for any agent; a key for the other one would be
            // silently ignored, so it is refused.
            let agent = config.agent.as_str();
            let other = sets
                .iter()
                .filter_map(|s| s.split_once('=').map(|(k, _)| k.trim()))
                .find(|k| {
                    k.split_once('.')
                        .is_some_and(|(table, _)| matches!(table, "dqn" | "ppo") && table != agent)
                });
            if let Some(key) = other {
                return Err(ScenarioError::OtherAgentKey {
                    key: key.to_string(),
                    agent,
                });
            }
        }
        self.validate()?;
        if let (Some(named), Some(dataset)) = (named_dataset, self.settings.dataset()) {
            self.name = run_name(&self.name, named, dataset);
        }
        Ok(self)
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        match &self.settings {
            Settings::Classifier(c) => Ok(c.validate()?),
            Settings::Gan(c) => Ok(c.validate()?),
            Settings::Rl(c) => Ok(c.validate()?),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_name_carries_one_switched_dataset_at_most() {
        use super::run_name;
        use crate::data::DatasetName::{Digits, FashionMnist, Mnist};
        assert_eq!(run_name("mnist-cnn", Mnist, Mnist), "mnist-cnn");
        assert_eq!(
            run_name("mnist-cnn", Mnist, FashionMnist),
            "mnist-cnn-fashion"
        );
        // Switched by --set, then again in the dashboard, then back.
        assert_eq!(
            run_name("mnist-cnn-digits", Mnist, FashionMnist),
            "mnist-cnn-fashion"
        );
        assert_eq!(run_name("mnist-cnn-digits", Mnist, Mnist), "mnist-cnn");
        // A scenario whose own name ends in its dataset keeps it.
        assert_eq!(
            run_name("tiny-fashion", FashionMnist, FashionMnist),
            "tiny-fashion"
        );
        assert_eq!(
            run_name("tiny-fashion", FashionMnist, Digits),
            "tiny-fashion-digits"
        );
    }

    use super::*;

    fn p() -> &'static Path {
        Path::new("scenarios/test.toml")
    }

    #[test]
    fn a_set_for_the_other_rl_agent_is_refused() {
        let dqn = parse(p(), "kind = \"rl\"\nagent = \"dqn\"\n").unwrap();
        let err = dqn
            .clone()
            .with_overrides(&["ppo.lr=0.01".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ppo.lr") && err.contains("dqn agent"), "{err}");
        dqn.clone().with_overrides(&["dqn.lr=0.01".into()]).unwrap();
        // Switching the agent in the same command makes its keys apply.
        dqn.with_overrides(&["agent=ppo".into(), "ppo.lr=0.01".into()])
            .unwrap();
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let s = parse(p(), "kind = \"classifier\"\nlr = 0.01\n").unwrap();
        let Settings::Classifier(c) = s.settings else {
            panic!("a classifier scenario")
        };
        assert_eq!(c.lr, 0.01);
        assert_eq!(c.batch_size, 32);
        assert_eq!(s.name, "test");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "# a comment\nkind = \"classifier\"\nepochs = 2\nlearning_rate = 0.1\n";
        let msg = parse(p(), text).unwrap_err().to_string();
        assert!(msg.contains("learning_rate"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("scenarios/test.toml"), "{msg}");
    }

    #[test]
    fn a_value_out_of_range_in_the_file_is_named_with_its_line() {
        let text = "kind = \"rl\"\nagent = \"dqn\"\n\n[dqn]\n# big\nbuffer_size = 100000000000\n";
        let msg = load_text(text, &[]).unwrap_err().to_string();
        assert!(
            msg.starts_with("scenarios/test.toml:6: dqn.buffer_size = 100000000000"),
            "{msg}"
        );
        // A --set that fixes it wins; one that breaks it is named as the --set.
        assert!(load_text(text, &["dqn.buffer_size=1000".into()]).is_ok());
        let msg = load_text("kind = \"classifier\"\n", &["batch_size=100000".into()])
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("batch_size = 100000: must be in 1..=4096"),
            "{msg}"
        );
    }

    #[test]
    fn a_folder_dataset_and_its_data_table_come_together() {
        let err = |text: &str| load_text(text, &[]).unwrap_err().to_string();
        let msg = err("kind = \"classifier\"\ndataset = \"folder\"\n");
        assert!(
            msg.contains(":2: dataset = folder: needs a [data] table"),
            "{msg}"
        );
        let msg = err("kind = \"classifier\"\n[data]\npath = \"/nowhere\"\n");
        assert!(
            msg.contains(":3: data.path = /nowhere: is read only with dataset = \"folder\""),
            "{msg}"
        );
        let text = "kind = \"classifier\"\ndataset = \"folder\"\n[data]\npath = \"/nowhere\"\n";
        let msg = err(&format!("{text}test_fraction = 1.5\n"));
        assert!(
            msg.contains(":5: data.test_fraction = 1.5: must be between 0 and 1"),
            "{msg}"
        );
        // A folder not there yet loads (the dashboard says it is missing); a relative path is
        // saved absolute.
        let s = load_text(text, &["data.path=\"some/where\"".into()]).unwrap();
        let Settings::Classifier(c) = s.settings else {
            panic!("a classifier")
        };
        let path = c.data.expect("a [data] table").path;
        assert!(
            path.is_absolute() && path.ends_with("some/where"),
            "{path:?}"
        );
        let msg = err("kind = \"gan\"\ndataset = \"folder\"\n");
        assert!(msg.contains("dataset = folder"), "{msg}");
    }

    /// Parses `text` as the file and applies `sets`, with [`load_with_overrides`]'s messages.
    fn load_text(text: &str, sets: &[String]) -> Result<Scenario, ScenarioError> {
        parse(p(), text)?
            .with_overrides(sets)
            .map_err(|e| locate(e, p(), text, sets))
    }

    #[test]
    fn line_of_key_finds_tables_dotted_keys_and_quotes() {
        let text =
            "kind = \"rl\"\nppo.lr = 1\n[dqn]\n\"hidden\" = [4]\n# gamma = 1\n[ppo]\nepochs = 2\n";
        assert_eq!(line_of_key(text, "kind"), Some(1));
        assert_eq!(line_of_key(text, "ppo.lr"), Some(2));
        assert_eq!(line_of_key(text, "dqn.hidden"), Some(4));
        assert_eq!(line_of_key(text, "dqn.gamma"), None);
        assert_eq!(line_of_key(text, "ppo.epochs"), Some(7));
        assert_eq!(line_of_key(text, "epochs"), None);
    }

    #[test]
    fn every_size_key_is_bounded() {
        for (text, key) in [
            (
                "kind = \"classifier\"\nbatch_size = 1000000000\n",
                "batch_size",
            ),
            ("kind = \"classifier\"\nepochs = 1000000000\n", "epochs"),
            (
                "kind = \"classifier\"\neval_subset = 1000000000\n",
                "eval_subset",
            ),
            (
                "kind = \"classifier\"\nkeep_checkpoints = 1000000\n",
                "keep_checkpoints",
            ),
            (
                "kind = \"gan\"\nscore_samples = 1000000000\n",
                "score_samples",
            ),
            ("kind = \"gan\"\nbatch_size = 65536\n", "batch_size"),
            (
                "kind = \"gan\"\nkeep_checkpoints = 1000000\n",
                "keep_checkpoints",
            ),
            (
                "kind = \"rl\"\nagent = \"ppo\"\n[ppo]\nnum_envs = 100000000\n",
                "ppo.num_envs",
            ),
            (
                "kind = \"rl\"\nagent = \"ppo\"\n[ppo]\nrollout_steps = 100000000\n",
                "ppo.rollout_steps",
            ),
            (
                "kind = \"rl\"\nagent = \"ppo\"\n[ppo]\nnum_envs = 1024\nrollout_steps = 65536\n",
                "ppo.rollout_steps",
            ),
            (
                "kind = \"rl\"\nagent = \"ppo\"\n[ppo]\nepochs = 100000000\n",
                "ppo.epochs",
            ),
            (
                "kind = \"rl\"\nagent = \"ppo\"\n[ppo]\nhidden = [100000]\n",
                "ppo.hidden",
            ),
            (
                "kind = \"rl\"\n[dqn]\nbuffer_size = 100000000000\n",
                "dqn.buffer_size",
            ),
            (
                "kind = \"rl\"\n[dqn]\nhidden = [100000, 100000]\n",
                "dqn.hidden",
            ),
            (
                "kind = \"rl\"\n[dqn]\nhidden = [8, 8, 8, 8, 8, 8, 8, 8, 8]\n",
                "dqn.hidden",
            ),
            (
                "kind = \"rl\"\n[dqn]\nbatch_size = 100000000\n",
                "dqn.batch_size",
            ),
            (
                "kind = \"rl\"\n[dqn]\ngradient_steps = 100000000\n",
                "dqn.gradient_steps",
            ),
            ("kind = \"rl\"\nsolve_window = 100000000\n", "solve_window"),
            (
                "kind = \"rl\"\nkeep_checkpoints = 100000000\n",
                "keep_checkpoints",
            ),
        ] {
            match load_text(text, &[]) {
                Err(ScenarioError::InFile { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: expected a refusal of {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn set_kind_says_the_kind_is_the_scenarios_own() {
        let s = parse(p(), "kind = \"classifier\"\n").unwrap();
        let msg = s
            .with_overrides(&["kind=gan".into()])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("the kind is the scenario's own (classifier)"),
            "{msg}"
        );
        assert!(!msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn bad_kind_and_bad_types_are_refused() {
        let msg = parse(p(), "kind = \"vae\"\n").unwrap_err().to_string();
        assert!(msg.contains("\"vae\""), "{msg}");
        assert!(parse(p(), "lr = 1\n").is_err());
        let msg = parse(p(), "kind = \"classifier\"\nbatch_size = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn set_overrides_check_keys_types_and_ranges() {
        let s = parse(p(), "kind = \"classifier\"\n").unwrap();
        let s2 = s
            .clone()
            .with_overrides(&["lr=0.5".into(), "model=mlp".into(), "epochs=1".into()])
            .unwrap();
        let Settings::Classifier(c) = s2.settings else {
            panic!("a classifier scenario")
        };
        assert_eq!((c.lr, c.model, c.epochs), (0.5, Some(ModelKind::Mlp), 1));
        // A run on another dataset than the scenario's says so in its name.
        assert_eq!(s2.name, s.name);
        let named = |set: &str| s.clone().with_overrides(&[set.into()]).unwrap().name;
        assert_eq!(named("dataset=digits"), format!("{}-digits", s.name));
        assert_eq!(named("dataset=mnist"), s.name);
        for (set, needle) in [
            ("lr=-1", "lr = -1"),
            ("batch_size=0", "batch_size = 0"),
            ("lr=abc", "lr = abc"),
            ("colour=red", "unknown key"),
            ("nonsense", "expected key=value"),
            ("model=resnet", "model = resnet"),
        ] {
            let msg = s
                .clone()
                .with_overrides(&[set.into()])
                .unwrap_err()
                .to_string();
            assert!(msg.contains(needle), "{set}: {msg}");
        }
    }

    #[test]
    fn rl_set_reaches_checkpoint_keys_and_still_refuses_unknown_ones() {
        let s = parse(p(), "kind = \"rl\"\n").unwrap();
        let Settings::Rl(c) = s
            .clone()
            .with_overrides(&["checkpoint_every=5000".into(), "keep_checkpoints=2".into()])
            .unwrap()
            .settings
        else {
            panic!("an RL scenario")
        };
        assert_eq!((c.checkpoint_every, c.keep_checkpoints), (5000, 2));
        for (set, needle) in [
            ("checkpoint_evry=5", "unknown key"),
            ("keep_checkpoints=0", "keep_checkpoints"),
            ("checkpoint_every=-1", "checkpoint_every"),
        ] {
            let msg = s
                .clone()
                .with_overrides(&[set.into()])
                .unwrap_err()
                .to_string();
            assert!(msg.contains(needle), "{set}: {msg}");
        }
    }

    #[test]
    fn table_round_trip_carries_kind() {
        let s = parse(p(), "kind = \"classifier\"\n").unwrap();
        let t = s.settings.to_table();
        assert_eq!(t["kind"].as_str(), Some("classifier"));
        assert_eq!(t["batch_size"].as_integer(), Some(32));
    }
}
