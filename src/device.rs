//! `--device auto|cpu|cuda[:N]`: which device a job trains on.

use candle_core::Device;

/// A candle error as one readable line: backtraces (captured when `RUST_BACKTRACE` is set)
/// belong in bug reports, not in a status line.
pub fn error_text(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => error_text(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", error_text(inner))
        }
        other => other.to_string(),
    }
}

/// The user's device choice, parsed from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when compiled in and present, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// A CUDA device by ordinal; an error when CUDA is not available.
    Cuda(usize),
}

/// The `--device` text that chooses it again (`auto`, `cpu`, `cuda:N`): what a sweep passes to
/// each of its runs.
impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("unknown device {other:?}: use auto, cpu, cuda or cuda:N")),
        }
    }
}

impl DeviceChoice {
    /// Opens the device; asking for CUDA in a build without it says how to get it.
    pub fn open(self) -> Result<Device, String> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => Device::cuda_if_available(0)
                .map_err(|e| format!("opening CUDA device 0: {}", error_text(&e))),
            DeviceChoice::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(
                        "this gradtop was built without CUDA: rebuild with --features cuda".into(),
                    );
                }
                Device::new_cuda(n)
                    .map_err(|e| format!("opening CUDA device {n}: {}", error_text(&e)))
            }
        }
    }

    /// What the choice resolves to on this machine, for the top bar: `cpu`, `cuda`, `cuda:N`.
    pub fn label(self) -> String {
        match self {
            DeviceChoice::Cpu => "cpu".into(),
            DeviceChoice::Cuda(n) => format!("cuda:{n}"),
            DeviceChoice::Auto if candle_core::utils::cuda_is_available() => "cuda".into(),
            DeviceChoice::Auto => "cpu".into(),
        }
    }

    /// A short name for the status line.
    pub fn describe(device: &Device) -> String {
        match device {
            Device::Cpu => "cpu".into(),
            Device::Cuda(_) => "cuda".into(),
            Device::Metal(_) => "metal".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceChoice::Cuda(3)));
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert!(DeviceChoice::Cpu.open().is_ok());
    }

    #[test]
    fn writes_what_parses_back() {
        for choice in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(2)] {
            assert_eq!(choice.to_string().parse(), Ok(choice));
        }
    }
}
