//! NVIDIA GPUs as their driver reports them, for the GPU panel and the top bar. NVML is loaded
//! at run time (nothing is needed to build), so a machine without the driver only says so.

use std::time::Duration;

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::Nvml;

/// One GPU at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuReading {
    /// The driver's index, as `cuda:N` and nvidia-smi count.
    pub index: u32,
    /// Model name, e.g. "NVIDIA H200".
    pub name: String,
    /// Percent of the last sample period a kernel ran.
    pub util_percent: u32,
    /// Memory in use by every process, MiB.
    pub mem_used_mib: u64,
    /// Memory on the board, MiB.
    pub mem_total_mib: u64,
    /// Core temperature, °C, where the board reports it.
    pub temperature_c: Option<u32>,
    /// Board power draw, watts, where the board reports it.
    pub power_w: Option<f64>,
    /// Memory this process holds on the GPU, MiB (`None`: none, or not reported).
    pub own_mem_mib: Option<u64>,
}

/// What the driver says: every GPU's reading, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum GpuStatus {
    /// No NVML (no NVIDIA driver), or it failed: the reason, said once.
    Absent(String),
    /// A reading of every GPU (possibly none).
    Present(Vec<GpuReading>),
}

/// The driver's library, opened once.
pub struct GpuMonitor {
    nvml: Nvml,
}

/// Bytes in a MiB.
const MIB: u64 = 1 << 20;

impl GpuMonitor {
    /// Loads NVML; the error is what the panel says instead of readings.
    pub fn open() -> Result<Self, String> {
        Nvml::init().map(|nvml| Self { nvml }).map_err(|e| match e {
            nvml_wrapper::error::NvmlError::LibloadingError(_) => {
                "no NVIDIA driver found (libnvidia-ml.so.1 cannot be loaded)".to_string()
            }
            other => format!("the NVIDIA driver does not answer: {other}"),
        })
    }

    /// Reads every GPU now.
    pub fn read(&self) -> Result<Vec<GpuReading>, String> {
        let count = self.nvml.device_count().map_err(|e| e.to_string())?;
        let pid = std::process::id();
        (0..count)
            .map(|index| {
                let device = self
                    .nvml
                    .device_by_index(index)
                    .map_err(|e| format!("GPU {index}: {e}"))?;
                let memory = device
                    .memory_info()
                    .map_err(|e| format!("GPU {index}: {e}"))?;
                let own_mem_mib = device
                    .running_compute_processes()
                    .ok()
                    .and_then(|processes| {
                        processes.into_iter().find(|p| p.pid == pid).and_then(|p| {
                            match p.used_gpu_memory {
                                UsedGpuMemory::Used(bytes) => Some(bytes / MIB),
                                UsedGpuMemory::Unavailable => None,
                            }
                        })
                    });
                Ok(GpuReading {
                    index,
                    name: device.name().unwrap_or_else(|_| "GPU".into()),
                    util_percent: device.utilization_rates().map(|u| u.gpu).unwrap_or(0),
                    mem_used_mib: memory.used / MIB,
                    mem_total_mib: memory.total / MIB,
                    temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
                    power_w: device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
                    own_mem_mib,
                })
            })
            .collect()
    }
}

/// Reads the GPUs every `period` on a thread of its own (NVML calls block for milliseconds) and
/// hands each status to `send` until it returns false; without a driver it says so once and
/// stops.
pub fn spawn_sampler(period: Duration, mut send: impl FnMut(GpuStatus) -> bool + Send + 'static) {
    std::thread::spawn(move || {
        let monitor = match GpuMonitor::open() {
            Ok(monitor) => monitor,
            Err(why) => {
                send(GpuStatus::Absent(why));
                return;
            }
        };
        loop {
            let status = match monitor.read() {
                Ok(readings) => GpuStatus::Present(readings),
                Err(why) => GpuStatus::Absent(why),
            };
            let absent = matches!(status, GpuStatus::Absent(_));
            if !send(status) || absent {
                return;
            }
            std::thread::sleep(period);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_driver_the_sampler_says_so_once_and_stops() {
        if GpuMonitor::open().is_ok() {
            // A machine with the driver reads real GPUs instead; the absent case is this one's.
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_sampler(Duration::from_millis(1), move |status| {
            tx.send(status).is_ok()
        });
        let first = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a first status");
        match first {
            GpuStatus::Absent(why) => assert!(why.starts_with("no NVIDIA driver found"), "{why}"),
            other => panic!("expected absent, got {other:?}"),
        }
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "said once, then the sampler stopped"
        );
    }
}
